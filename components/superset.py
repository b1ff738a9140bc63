"""Superset: the official apache/superset image plus the Trino driver, bootstrapped on every start.

superset_config.py is generated and holds no secret (SECRET_KEY comes from the environment, a Pulumi secret);
the SQLite metadata database lives on a named volume, so it survives re-creating the container.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi

from components import containers as c
from components.sizing import SUPERSET_MIB
from lakehouse.generators.superset import (
    ADMIN_PASSWORD_ENV,
    ADMIN_SCRIPT_NAME,
    ADMIN_USER_ENV,
    SECRET_KEY_ENV,
    admin_script,
    gunicorn_args,
    superset_config,
)

HOSTNAME = "superset"
PORT = 8088
HOME = "/app/superset_home"
CONFIG_PATH = "/app/lakehouse/superset_config.py"
ADMIN_SCRIPT_PATH = f"/app/lakehouse/{ADMIN_SCRIPT_NAME}"
DOCKERFILE = "images/superset/Dockerfile"
CONTEXT = "images/superset"
IMAGE_NAME = "lakehouse/superset"


# Inside the container every interface is fine: Docker publishes the port on lakehouse:bindAddress only.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


def bootstrap_command(
    port: int = PORT, *, host: str = ALL_INTERFACES, admin_script_path: str = ADMIN_SCRIPT_PATH
) -> list[str]:
    """Idempotent start steps, then the server; the command holds no credential. The admin script, after `init`
    (which creates the Admin role), creates the admin or sets its password from the environment: a new password
    re-creates the container, and this step rotates it."""
    gunicorn = shlex.join(gunicorn_args(host=host, port=port))
    steps = [
        "set -e",
        "superset db upgrade",
        "superset init",
        f"python {admin_script_path}",
        f"exec gunicorn {gunicorn}",
    ]
    return ["bash", "-c", "; ".join(steps)]


@dataclass(frozen=True)
class SupersetArgs(c.ServiceArgs):
    build_args: dict[str, str]
    """Build args of images/superset/Dockerfile (Versions.superset_build_args())."""
    secret_key: pulumi.Input[str]
    """SECRET_KEY (secret, at least 32 characters)."""
    admin_user: str
    """User name of the admin."""
    admin_password: pulumi.Input[str]
    """Password of the admin (secret)."""
    host_port: int
    """Host port of the web UI and API."""

    def __post_init__(self) -> None:
        base = self.build_args.get("SUPERSET_IMAGE", "")
        if ":" not in base or base.endswith(":latest"):
            raise ValueError(f"SupersetArgs base image {base!r} must be pinned to a tag")
        if not self.build_args.get("TRINO_DRIVER_VERSION"):
            raise ValueError("SupersetArgs.build_args must pin TRINO_DRIVER_VERSION")


class Superset(pulumi.ComponentResource):
    """Children: `<name>-image` (built locally), `<name>-home` (metadata database) and `<name>-server` (`superset`)."""

    url: pulumi.Output[str]

    def __init__(self, name: str, args: SupersetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lakehouse:index:Superset", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tag = args.build_args.get("SUPERSET_IMAGE", "").rpartition(":")[2]
        self.image = c.built_image(f"{name}-image", f"{IMAGE_NAME}:{tag}", CONTEXT, DOCKERFILE, args.build_args, self)
        config = superset_config(metadata_uri=f"sqlite:///{HOME}/superset.db", data_dir=f"{HOME}/data")
        home = c.volume(f"{name}-home", args.name_prefix, "superset-home", HOME, child)
        self.server = c.container(
            f"{name}-server",
            args,
            hostname=HOSTNAME,
            role="superset",
            memory_mib=SUPERSET_MIB,
            opts=child,
            ports={PORT: args.host_port},
            files={CONFIG_PATH: config, ADMIN_SCRIPT_PATH: admin_script()},
            wait_timeout=420,
            image=self.image.repo_digest,
            command=bootstrap_command(),
            envs=c.env_list(
                {"SUPERSET_CONFIG_PATH": CONFIG_PATH, "SUPERSET_HOME": HOME, ADMIN_USER_ENV: args.admin_user},
                {SECRET_KEY_ENV: args.secret_key, ADMIN_PASSWORD_ENV: args.admin_password},
            ),
            volumes=home,
            # The image's virtualenv python is first on PATH.
            healthcheck=c.healthcheck(
                c.http_probe(f"http://localhost:{PORT}/health", python="python"), start_period=120
            ),
        )
        self.register_outputs(c.outputs(self, url=f"http://{HOSTNAME}:{PORT}"))
