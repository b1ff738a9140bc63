"""Superset from PyPI in its own virtualenv (its pins clash with pyspark), configured by lakehouse.generators.superset,
SQLite metadata, gunicorn on 127.0.0.1. `db upgrade` + `init` (the slow part) run once per version into a template
database in the cache; each start copies it and runs only the stack's admin bootstrap script.
`start_private` runs another Superset, for tests that restart or re-bootstrap one (password rotation)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path

from lakehouse.clients.superset_api import SupersetClient
from lakehouse.generators.superset import (
    ADMIN_PASSWORD_ENV,
    ADMIN_SCRIPT_NAME,
    ADMIN_USER_ENV,
    SECRET_KEY_ENV,
    admin_script,
    gunicorn_args,
    superset_config,
)
from testbed import artifacts
from testbed.context import Context
from testbed.creds import secret
from testbed.plan import HOST
from testbed.proc import Proc, run_logged, spawn, wait_for

SERVICE = "superset"


def url(ctx: Context) -> str:
    return f"http://{HOST}:{ctx.plan.superset}"


def server_env(base: Mapping[str, str], venv: Path, home: Path, *, secret_key: str) -> dict[str, str]:
    """The environment of every Superset command: its venv first on PATH, the generated config, the key."""
    return {
        **base,
        "PATH": f"{venv / 'bin'}:{base.get('PATH', '/usr/local/bin:/usr/bin:/bin')}",
        "SUPERSET_CONFIG_PATH": str(home / "superset_config.py"),
        "SUPERSET_HOME": str(home),
        "FLASK_APP": "superset",
        SECRET_KEY_ENV: secret_key,
    }


def write_home(home: Path) -> None:
    """superset_config.py and the admin bootstrap script, as the stack's container gets them."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "data").mkdir(exist_ok=True)
    (home / "superset_config.py").write_text(
        superset_config(metadata_uri=f"sqlite:///{home / 'superset.db'}", data_dir=str(home / "data"))
    )
    (home / ADMIN_SCRIPT_NAME).write_text(admin_script())


def template_db(venv: Path, *, base_env: Mapping[str, str], log: Path) -> Path:
    """superset.db after `db upgrade` and `init` (no users, no secrets), built once per venv."""

    def build(tmp: Path) -> None:
        home = tmp / "home"
        write_home(home)
        # A throwaway key: the template holds no encrypted value, so no run's key is needed to read it.
        env = server_env(base_env, venv, home, secret_key=secret(48))
        run_logged("superset", [str(venv / "bin" / "superset"), "db", "upgrade"], env=env, log=log, timeout=600)
        run_logged("superset", [str(venv / "bin" / "superset"), "init"], env=env, log=log, timeout=600)
        shutil.move(str(home / "superset.db"), tmp / "superset.db")
        shutil.rmtree(home)

    # Keyed by the venv (Superset version) and the generated config, which `init` reads (feature flags...).
    key = artifacts.cache_key(superset_config(metadata_uri="sqlite:///db", data_dir="data"))
    return artifacts.ensure(f"superset-metadata-{venv.parent.name}-{key}", build) / "superset.db"


def bootstrap_admin(venv: Path, home: Path, env: Mapping[str, str], *, user: str, password: str, log: Path) -> None:
    """Create the admin, or set its password when it differs (rotation): the stack's admin script."""
    argv = [str(venv / "bin" / "python"), "-I", str(home / ADMIN_SCRIPT_NAME)]  # -I: its directory off sys.path
    run_logged("superset", argv, env={**env, ADMIN_USER_ENV: user, ADMIN_PASSWORD_ENV: password}, log=log, timeout=300)


def server_argv(venv: Path, port: int) -> list[str]:
    return [str(venv / "bin" / "gunicorn"), *gunicorn_args(host=HOST, port=port)]


def _prepare(
    venv: Path, home: Path, base_env: Mapping[str, str], keys: tuple[str, str, str], log: Path, *, fresh: bool
) -> dict[str, str]:
    """The home (config, metadata copied from the template) with the admin bootstrapped; the server's env.
    `keys`: (SECRET_KEY, admin user, admin password)."""
    secret_key, user, password = keys
    write_home(home)
    if fresh or not (home / "superset.db").exists():
        shutil.copyfile(template_db(venv, base_env=base_env, log=log), home / "superset.db")
    env = server_env(base_env, venv, home, secret_key=secret_key)
    bootstrap_admin(venv, home, env, user=user, password=password, log=log)
    return env


def start(ctx: Context, venv: Path) -> Proc:
    home = ctx.data("superset")
    ctx.store.service(SERVICE, address=url(ctx), ports=[ctx.plan.superset], log=str(ctx.log(SERVICE)))
    c = ctx.creds
    keys = (c.superset_secret_key, ctx.settings.superset_admin_user, c.superset_admin_password)
    env = _prepare(venv, home, ctx.base_env(), keys, ctx.log(SERVICE), fresh=True)
    return ctx.spawn(SERVICE, SERVICE, server_argv(venv, ctx.plan.superset), env=env, cwd=home)


def start_private(
    venv: Path,
    home: Path,
    port: int,
    *,
    base_env: Mapping[str, str],
    secret_key: str,
    admin_user: str,
    admin_password: str,
    log: Path,
) -> Proc:
    """A Superset of its own serving on `port`; the caller stops it (`testbed.proc.stop_group(proc.pid)`)."""
    env = _prepare(venv, home, base_env, (secret_key, admin_user, admin_password), log, fresh=False)
    return spawn(f"superset-{port}", server_argv(venv, port), env=env, log=log, cwd=home)


def wait_logged_in(base_url: str, user: str, password: str, *, proc: Proc | None, timeout: float = 180) -> float:
    """Usable = API login with the admin's password works. Returns the seconds waited."""
    start_at = time.monotonic()

    def ok() -> bool:
        with SupersetClient.login(base_url, user, password, timeout=30):
            return True

    wait_for(ok, service=SERVICE, what="API login as the admin", timeout=timeout, proc=proc, interval=1.0)
    return time.monotonic() - start_at


def wait_ready(ctx: Context, proc: Proc, timeout: float = 180) -> float:
    return wait_logged_in(
        url(ctx), ctx.settings.superset_admin_user, ctx.creds.superset_admin_password, proc=proc, timeout=timeout
    )
