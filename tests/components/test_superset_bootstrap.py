"""Superset's start command and admin bootstrap (issue 11: rotating supersetAdminPassword must work): the
command runs the admin script after `init` and holds no credential; the script creates the admin, rotates its
password when it differs, restores its role and active flag, and never prints the password. The real Superset
runs it in tests/integration/test_superset_admin_rotation.py."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components import superset as component
from lakehouse import superset_admin
from lakehouse.generators import superset as gen


def steps(command: list[str]) -> list[str]:
    assert command[:2] == ["bash", "-c"]
    return [s.strip() for s in command[2].split(";")]


def test_command_bootstraps_in_order_then_serves() -> None:
    got = steps(component.bootstrap_command())
    assert got == [
        "set -e",
        "superset db upgrade",
        "superset init",
        f"python {component.ADMIN_SCRIPT_PATH}",
        # One worker, threads for concurrency: two workers would not fit the container's memory limit.
        "exec gunicorn --bind 0.0.0.0:8088 --workers 1 --worker-class gthread --threads 8 --timeout 120 "
        "'superset.app:create_app()'",
    ]


def test_the_test_bed_serves_superset_with_the_stacks_gunicorn_arguments() -> None:
    from pathlib import Path

    from testbed.services.superset import server_argv

    argv = server_argv(Path("/venv"), 20088)
    assert argv[0] == "/venv/bin/gunicorn"
    assert argv[1:] == gen.gunicorn_args(host="127.0.0.1", port=20088)


def test_command_no_longer_uses_create_admin_and_holds_no_credential() -> None:
    text = " ".join(component.bootstrap_command())
    assert "create-admin" not in text and "reset-password" not in text
    # Neither the value nor an expansion of the password variable: the script reads it from its environment.
    assert gen.ADMIN_PASSWORD_ENV not in text and "--password" not in text


def test_command_binds_where_it_is_told() -> None:
    last = steps(component.bootstrap_command(port=21234, host="127.0.0.1", admin_script_path="/x/a.py"))
    assert last[3] == "python /x/a.py"
    assert shlex.split(last[4])[:3] == ["exec", "gunicorn", "--bind"] and "127.0.0.1:21234" in last[4]


def test_the_container_gets_the_very_script_the_test_bed_runs() -> None:
    assert gen.admin_script() == Path(superset_admin.__file__).read_text()
    assert component.ADMIN_SCRIPT_PATH == f"/app/lakehouse/{gen.ADMIN_SCRIPT_NAME}"
    # The names the component sets are the names the script reads.
    assert (superset_admin.USER_ENV, superset_admin.PASSWORD_ENV) == (gen.ADMIN_USER_ENV, gen.ADMIN_PASSWORD_ENV)
    compile(gen.admin_script(), "superset_admin.py", "exec")


def test_the_test_bed_writes_the_same_config_and_script_into_its_home(tmp_path: Path) -> None:
    from testbed.services import superset as bed

    bed.write_home(tmp_path)
    assert (tmp_path / gen.ADMIN_SCRIPT_NAME).read_text() == gen.admin_script()
    assert "SECRET_KEY = _secret" in (tmp_path / "superset_config.py").read_text()


# ----- the script's logic, on a stand-in for Superset's security manager -----


@dataclass(eq=False)
class Role:
    name: str


@dataclass(eq=False)
class User:
    id: int
    username: str
    password: str
    roles: list[Role]
    active: bool = True


@dataclass
class FakeSecurityManager:
    """The five calls ensure_admin makes; passwords 'hashed' as 'h:<password>'."""

    roles: dict[str, Role] = field(default_factory=lambda: {"Admin": Role("Admin")})
    users: dict[str, User] = field(default_factory=dict)
    auth_role_admin: str = "Admin"
    updates: int = 0

    def find_role(self, name: str) -> Role | None:
        return self.roles.get(name)

    def find_user(self, username: str) -> User | None:
        return self.users.get(username)

    def add_user(self, username, first, last, email, role, password=""):  # type: ignore[no-untyped-def]
        user = User(len(self.users) + 1, username, f"h:{password}", [role])
        self.users[username] = user
        return user

    def reset_password(self, user_id: int, password: str) -> None:
        (user,) = [u for u in self.users.values() if u.id == user_id]
        user.password = f"h:{password}"
        self.updates += 1

    def update_user(self, user: User) -> None:
        self.updates += 1


def matches(stored: str, password: str) -> bool:
    return stored == f"h:{password}"


def test_admin_is_created_on_a_fresh_metadata_database() -> None:
    sm = FakeSecurityManager()
    assert superset_admin.ensure_admin(sm, "admin", "first-pw", matches=matches) == "created"
    admin = sm.users["admin"]
    assert (admin.password, admin.roles) == ("h:first-pw", [sm.roles["Admin"]])


def test_a_new_password_rotates_the_existing_admins() -> None:
    sm = FakeSecurityManager()
    superset_admin.ensure_admin(sm, "admin", "first-pw", matches=matches)
    assert superset_admin.ensure_admin(sm, "admin", "second-pw", matches=matches) == "password rotated"
    assert sm.users["admin"].password == "h:second-pw"  # pragma: allowlist secret - a unit test's fake


def test_the_same_password_changes_nothing() -> None:
    sm = FakeSecurityManager()
    superset_admin.ensure_admin(sm, "admin", "pw", matches=matches)
    assert superset_admin.ensure_admin(sm, "admin", "pw", matches=matches) == "unchanged"
    assert sm.updates == 0


def test_a_deactivated_or_demoted_admin_is_repaired() -> None:
    sm = FakeSecurityManager()
    sm.roles["Gamma"] = Role("Gamma")
    sm.users["admin"] = User(1, "admin", "h:pw", [sm.roles["Gamma"]], active=False)
    assert superset_admin.ensure_admin(sm, "admin", "pw", matches=matches) == "repaired"
    assert sm.users["admin"].active is True and sm.roles["Admin"] in sm.users["admin"].roles


def test_no_admin_role_means_init_did_not_run() -> None:
    sm = FakeSecurityManager(roles={})
    with pytest.raises(RuntimeError, match="run `superset init` first"):
        superset_admin.ensure_admin(sm, "admin", "pw", matches=matches)


@pytest.mark.parametrize("missing", [superset_admin.USER_ENV, superset_admin.PASSWORD_ENV])
def test_script_refuses_to_run_without_its_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    monkeypatch.setenv(superset_admin.USER_ENV, "admin")
    monkeypatch.setenv(superset_admin.PASSWORD_ENV, "Some-Secret-Value-1")
    monkeypatch.delenv(missing)
    assert superset_admin.main() == 2
    err = capsys.readouterr().err
    assert f"{missing} is not set" in err and "Some-Secret-Value-1" not in err
