"""Building blocks every component shares (plain helper functions): one definition each of the container's
restart policy, healthcheck timing, network, published ports, secret environment values and registered outputs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker

# Restart after a crash or a Docker restart, but not after `docker stop`.
RESTART_POLICY = "unless-stopped"
# Seconds `pulumi up` waits for a container to report healthy before it fails.
DEFAULT_WAIT_TIMEOUT = 180
# Seconds between SIGTERM and SIGKILL when `destroy` (or a replacement) removes a container: the docker provider
# stops it with `destroy_grace_seconds` (not `stop_timeout`), and without one kills at once.
DESTROY_GRACE_SECONDS = 30
LABEL_PROJECT = "lakehouse.project"
LABEL_ROLE = "lakehouse.role"


@dataclass(frozen=True, kw_only=True)
class ServiceArgs:
    """The fields every service's Args shares (keyword-only, so each Args orders its own fields freely)."""

    network_name: pulumi.Input[str]
    """Docker network its containers join, each under its hostname."""
    bind_address: str
    """Host address its ports are published on."""
    name_prefix: str = ""
    """Prefix of the Docker names of its containers and volumes (the stack's; see docker_name)."""


def go_duration(seconds: int) -> str:
    """`seconds` as Go's time.Duration prints it (`90` -> "1m30s"): the form the docker provider reads a healthcheck
    back in, so that no container shows as changed on every later `up`."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise ValueError(f"a healthcheck duration must be a whole number of seconds >= 0, got {seconds!r}")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def healthcheck(
    test: Sequence[str],
    *,
    interval: int = 15,
    timeout: int = 10,
    start_period: int = 60,
    start_interval: int = 3,
) -> docker.ContainerHealthcheckArgs:
    """A healthcheck that probes often while the service starts (start_interval) and calmly afterwards.
    Durations in seconds, handed to Docker in Go's own notation (see go_duration)."""
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        raise ValueError(f"healthcheck test must start with CMD or CMD-SHELL, got {list(test)!r}")
    return docker.ContainerHealthcheckArgs(
        tests=list(test),
        interval=go_duration(interval),
        timeout=go_duration(timeout),
        retries=5,
        start_period=go_duration(start_period),
        start_interval=go_duration(start_interval),
    )


def memory_limit(mib: int) -> dict[str, int]:
    """The `memory` and `memory_swap` inputs of a container capped at `mib` MiB of RAM. `memory_swap` is -1 (swap
    as the host has it): left out, Docker fills in a value the provider then diffs on every `up`, and -1 is the one
    value Docker keeps as given on every host."""
    if isinstance(mib, bool) or not isinstance(mib, int) or mib < 6:
        raise ValueError(
            f"a container's memory limit must be a whole number of MiB >= 6 (Docker's minimum), got {mib!r}"
        )
    return {"memory": mib, "memory_swap": -1}


def http_probe(url: str, *, python: str = "python3", json_field: tuple[str, str] | None = None) -> list[str]:
    """A healthcheck command that GETs `url` with the image's Python (no curl/wget needed); with
    `json_field=(key, value)` the body must be a JSON object whose `key` equals `value`."""
    key, value = json_field or ("", "")
    check = f"sys.exit(0 if json.loads(b).get({key!r})=={value!r} else 1)" if json_field else "sys.exit(0)"
    code = f"import json,sys,urllib.request; b=urllib.request.urlopen({url!r},timeout=5).read(); {check}"
    return ["CMD", python, "-c", code]


def client_host(bind_address: str) -> str:
    """The host name a client on this machine uses to reach ports published on `bind_address`: `localhost` only
    for 127.0.0.1 and 0.0.0.0 (`localhost` does not resolve to another loopback address)."""
    ip = ipaddress.ip_address(bind_address)
    return "localhost" if str(ip) == "127.0.0.1" or ip.is_unspecified else bind_address


def connect_address(bind_address: str) -> str:
    """An IP a process on this machine (a provider) connects to, for ports published on `bind_address`."""
    ip = ipaddress.ip_address(bind_address)
    return ("127.0.0.1" if ip.version == 4 else "::1") if ip.is_unspecified else bind_address


def env_list(
    plain: Mapping[str, str], secret: Mapping[str, pulumi.Input[str]] | None = None
) -> list[pulumi.Input[str]]:
    """`KEY=value` entries; each secret value stays a Pulumi secret (so the whole env list is one)."""
    entries: list[pulumi.Input[str]] = [f"{key}={value}" for key, value in plain.items()]
    for key, value in (secret or {}).items():
        if key in plain:
            raise ValueError(f"environment variable {key} is given both as plain and as secret value")
        entries.append(pulumi.Output.secret(value).apply(lambda v, k=key: f"{k}={v}"))
    return entries


_PREFIX = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def stack_prefix(project: str, stack: str) -> str:
    """What every Docker name of one stack starts with (`lakehouse-dev`), so two stacks on one host differ."""
    prefix = f"{project}-{stack}"
    if not _PREFIX.match(prefix):
        raise ValueError(
            f"project/stack {project!r}/{stack!r} cannot prefix Docker names: letters, digits, '_', '.', '-' only"
        )
    return prefix


def docker_name(prefix: str, name: str) -> str:
    """The Docker name (container, volume, network) of `name` in the stack `prefix` ('' keeps it as it is). Hostnames
    and network aliases, which the generated configuration refers to, stay the same in every stack."""
    if prefix and not _PREFIX.match(prefix):
        raise ValueError(f"Docker name prefix {prefix!r} is not allowed: letters, digits, '_', '.', '-'")
    return f"{prefix}-{name}" if prefix else name


def container(
    resource_name: str,
    service: ServiceArgs,
    *,
    hostname: str,
    role: str,
    memory_mib: int,
    opts: pulumi.ResourceOptions,
    ports: Mapping[int, int] | None = None,
    files: Mapping[str, str] | None = None,
    destroy_grace_seconds: int = DESTROY_GRACE_SECONDS,
    wait_timeout: int = DEFAULT_WAIT_TIMEOUT,
    **inputs: object,
) -> docker.Container:
    """A service container as every one of the stack is: named in the stack, reachable by `hostname` on its network,
    restarted, memory-capped, labelled, waited for until healthy, `ports` (container -> host) published on the bind
    address, `files` (path -> text, never a secret) written in before it starts; `inputs` add the rest."""
    if ports:
        inputs["ports"] = [
            docker.ContainerPortArgs(internal=internal, external=external, ip=service.bind_address, protocol="tcp")
            for internal, external in ports.items()
        ]
    if files:
        inputs["uploads"] = [docker.ContainerUploadArgs(file=p, content=t, executable=False) for p, t in files.items()]
    return docker.Container(
        resource_name,
        name=docker_name(service.name_prefix, hostname),
        hostname=hostname,
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=service.network_name, aliases=[hostname])],
        restart=RESTART_POLICY,
        destroy_grace_seconds=destroy_grace_seconds,
        **memory_limit(memory_mib),
        labels=[
            docker.ContainerLabelArgs(label=LABEL_PROJECT, value="lakehouse"),
            docker.ContainerLabelArgs(label=LABEL_ROLE, value=role),
        ],
        wait=True,
        wait_timeout=wait_timeout,
        opts=opts,
        **inputs,  # type: ignore[arg-type]
    )


def volume(resource_name: str, prefix: str, name: str, path: str, opts: pulumi.ResourceOptions) -> list[Any]:
    """A named volume (its data outlives the container) and its mount at `path`, for `volumes=`."""
    data = docker.Volume(resource_name, name=docker_name(prefix, name), opts=opts)
    return [docker.ContainerVolumeArgs(volume_name=data.name, container_path=path)]


def built_image(
    resource_name: str, image_name: str, context: str, dockerfile: str, args: Mapping[str, str], parent: pulumi.Resource
) -> docker.Image:
    """An image built from the repository, kept local (never pushed)."""
    build = docker.DockerBuildArgs(context=context, dockerfile=dockerfile, args=dict(args))
    opts = pulumi.ResourceOptions(parent=parent)
    return docker.Image(resource_name, image_name=image_name, build=build, skip_push=True, opts=opts)


def outputs(component: pulumi.Resource, **values: pulumi.Input[Any]) -> dict[str, pulumi.Output[Any]]:
    """Each value as an Output attribute of `component` under its name; the same, for `register_outputs`."""
    out = {k: v if isinstance(v, pulumi.Output) else pulumi.Output.from_input(v) for k, v in values.items()}
    for key, value in out.items():
        setattr(component, key, value)
    return out
