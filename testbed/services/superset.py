"""Superset from PyPI in its own virtualenv (its pins clash with pyspark): superset_config.py from
lakehouse.generators.superset, SQLite metadata, the admin bootstrapped, gunicorn on 127.0.0.1.

`superset db upgrade` + `superset init` (the slow part) run once per Superset version into a template
metadata database in the cache; each `up` copies it and only adds the admin with this run's password.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from lakehouse.generators.superset import ADMIN_PASSWORD_ENV, SECRET_KEY_ENV, superset_config
from testbed import artifacts
from testbed.context import Context
from testbed.creds import secret
from testbed.plan import HOST
from testbed.proc import Proc, run_logged, wait_for

SERVICE = "superset"
_ADMIN_SCRIPT = Path(__file__).resolve().parent / "superset_admin.py"


def url(ctx: Context) -> str:
    return f"http://{HOST}:{ctx.plan.superset}"


def _env(ctx: Context, venv: Path, home: Path, *, secret_key: str) -> dict[str, str]:
    return ctx.base_env(
        PATH=f"{venv / 'bin'}:{ctx.base_env()['PATH']}",
        SUPERSET_CONFIG_PATH=str(home / "superset_config.py"),
        SUPERSET_HOME=str(home),
        FLASK_APP="superset",
        **{SECRET_KEY_ENV: secret_key},
    )


def _write_config(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "data").mkdir(exist_ok=True)
    (home / "superset_config.py").write_text(
        superset_config(metadata_uri=f"sqlite:///{home / 'superset.db'}", data_dir=str(home / "data"))
    )


def template_db(ctx: Context, venv: Path) -> Path:
    """superset.db after `db upgrade` and `init` (no users, no secrets), built once per venv."""

    def build(tmp: Path) -> None:
        home = tmp / "home"
        _write_config(home)
        # A throwaway key: the template holds no encrypted value, so no run's key is needed to read it.
        env = _env(ctx, venv, home, secret_key=secret(48))
        log = ctx.log("superset")
        run_logged("superset", [str(venv / "bin" / "superset"), "db", "upgrade"], env=env, log=log, timeout=600)
        run_logged("superset", [str(venv / "bin" / "superset"), "init"], env=env, log=log, timeout=600)
        shutil.move(str(home / "superset.db"), tmp / "superset.db")
        shutil.rmtree(home)

    # Keyed by the venv (Superset version) and the generated config, which `init` reads (feature flags...).
    key = artifacts.cache_key(superset_config(metadata_uri="sqlite:///db", data_dir="data"))
    return artifacts.ensure(f"superset-metadata-{venv.parent.name}-{key}", build) / "superset.db"


def start(ctx: Context, venv: Path) -> Proc:
    home = ctx.data("superset")
    _write_config(home)
    ctx.store.service(SERVICE, address=url(ctx), ports=[ctx.plan.superset], log=str(ctx.log(SERVICE)))
    shutil.copyfile(template_db(ctx, venv), home / "superset.db")
    env = _env(ctx, venv, home, secret_key=ctx.creds.superset_secret_key)
    # -I: isolated mode keeps the script's directory (and this module, superset.py) off sys.path.
    run_logged(
        "superset",
        [str(venv / "bin" / "python"), "-I", str(_ADMIN_SCRIPT)],
        env=env
        | {
            "SUPERSET_ADMIN_USER": ctx.settings.superset_admin_user,
            ADMIN_PASSWORD_ENV: ctx.creds.superset_admin_password,
        },
        log=ctx.log(SERVICE),
        timeout=300,
    )
    # One worker with threads: the test bed's load is a few API calls at a time; saves ~300 MB.
    argv = [
        str(venv / "bin" / "gunicorn"),
        "--bind",
        f"{HOST}:{ctx.plan.superset}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        "8",
        "--timeout",
        "120",
        "superset.app:create_app()",
    ]
    return ctx.spawn(SERVICE, SERVICE, argv, env=env, cwd=home)


def login(base_url: str, user: str, password: str):
    """A requests.Session logged in through the API (bearer token + CSRF token), as the stack's providers do."""
    import requests

    http = requests.Session()
    http.headers["Accept"] = "application/json"
    resp = http.post(
        f"{base_url}/api/v1/security/login",
        json={"username": user, "password": password, "provider": "db", "refresh": True},
        timeout=30,
    )
    resp.raise_for_status()
    http.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
    csrf = http.get(f"{base_url}/api/v1/security/csrf_token/", timeout=30)
    csrf.raise_for_status()
    http.headers["X-CSRFToken"] = csrf.json()["result"]
    http.headers["Referer"] = base_url
    return http


def wait_ready(ctx: Context, proc: Proc, timeout: float = 180) -> float:
    """Usable = API login with the admin's password works."""
    start = time.monotonic()
    wait_for(
        lambda: bool(login(url(ctx), ctx.settings.superset_admin_user, ctx.creds.superset_admin_password)),
        service=SERVICE,
        what="API login as the admin",
        timeout=timeout,
        proc=proc,
        interval=1.0,
    )
    return time.monotonic() - start
