"""superset_config.py: valid Python, SECRET_KEY from the environment (refused when short), SQLite on a volume."""

from __future__ import annotations

import pytest

from lakehouse.generators.superset import SECRET_KEY_ENV, superset_config, trino_sqlalchemy_uri

URI = "sqlite:////app/superset_home/superset.db"


def load(monkeypatch: pytest.MonkeyPatch, secret: str | None) -> dict[str, object]:
    if secret is None:
        monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_KEY_ENV, secret)
    namespace: dict[str, object] = {}
    source = superset_config(metadata_uri=URI, data_dir="/app/superset_home/data")
    # Superset imports the file as Python; running it here is the most direct check of what it does.
    exec(compile(source, "superset_config.py", "exec"), namespace)  # noqa: S102
    return namespace


def test_config_reads_the_secret_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "k" * 48
    ns = load(monkeypatch, secret)
    assert ns["SECRET_KEY"] == secret
    assert ns["SQLALCHEMY_DATABASE_URI"] == URI
    assert ns["DATA_DIR"] == "/app/superset_home/data"
    assert ns["WTF_CSRF_ENABLED"] is True


def test_config_text_holds_no_secret_value() -> None:
    text = superset_config(metadata_uri=URI, data_dir="/data")
    assert "SECRET_KEY = _secret" in text
    assert f"os.environ.get({SECRET_KEY_ENV!r}" in text


@pytest.mark.parametrize("secret", [None, "", "short"])
def test_missing_or_short_secret_key_stops_superset(monkeypatch: pytest.MonkeyPatch, secret: str | None) -> None:
    with pytest.raises(RuntimeError, match=f"{SECRET_KEY_ENV} must be set"):
        load(monkeypatch, secret)


def test_trino_uri() -> None:
    assert trino_sqlalchemy_uri(host="trino", port=8080) == "trino://superset@trino:8080/delta"


def test_admin_script_is_the_lakehouse_module() -> None:
    from pathlib import Path

    from lakehouse import superset_admin
    from lakehouse.generators.superset import admin_script

    assert admin_script() == Path(superset_admin.__file__).read_text()
