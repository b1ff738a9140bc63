"""pulumi-docker's Container (and Network, Volume) inputs as Docker Engine API calls, made the way its provider
(see readback.py) makes them: memory in MiB, healthcheck durations as Go durations, created on `bridge` then moved
to each `networks_advanced` network, every upload a one-file tar extracted at `/` before start. An input this
module does not know is refused by name. The one deviation, below API 1.44 only: `healthcheck.start_interval` is
dropped (Docker 20.10 refuses it), and the spec says so in `notes`.
"""

from __future__ import annotations

import base64
import io
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from testbed.docker import Echo
from testbed.docker.readback import MIB, READ_HOST, READ_MIB, UNSET, parse_duration

KNOWN_INPUTS = frozenset(UNSET) | {"wait", "waitTimeout", "start", "mustRun", "removeVolumes", "destroyGraceSeconds"}
KNOWN_FIELDS = {
    "uploads": frozenset({"file", "content", "contentBase64", "executable", "permissions"}),
    "volumes": frozenset({"volumeName", "containerPath", "hostPath", "readOnly"}),
    "ports": frozenset({"internal", "external", "ip", "protocol"}),
    "networksAdvanced": frozenset({"name", "aliases"}),
    "labels": frozenset({"label", "value"}),
    "healthcheck": frozenset({"tests", "interval", "timeout", "startPeriod", "startInterval", "retries"}),
}
CONFIG_LISTS = {"envs": "Env", "command": "Cmd", "entrypoints": "Entrypoint"}
CONFIG_STRINGS = {"stopSignal": "StopSignal", "user": "User", "workingDir": "WorkingDir"}
HOST_DICTS = {"tmpfs": "Tmpfs", "sysctls": "Sysctls"}
START_INTERVAL_API = (1, 44)
DEFAULT_WAIT_TIMEOUT = 60  # upstream's Default for wait_timeout


class UnknownInput(ValueError):
    """A Container input (or a field of one) the check does not translate."""


class ContainerFailed(RuntimeError):
    """A container did not start or did not become healthy as `wait=True` requires."""


@dataclass(frozen=True)
class Upload:
    path: str
    content: bytes
    mode: int


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container as pulumi-docker would."""

    name: str
    body: dict[str, Any]
    networks: list[tuple[str, list[str]]]
    uploads: list[Upload]
    start: bool = True
    wait: bool = False
    wait_timeout: int = DEFAULT_WAIT_TIMEOUT
    destroy_grace_seconds: int = 0
    remove_volumes: bool = True
    notes: list[str] = field(default_factory=list)
    dropped: tuple[str, ...] = ()  # properties not sent to this engine (`healthcheck.startInterval` below 1.44)


def _int(value: Any) -> int:
    # The engine hands numbers over as floats (3 -> 3.0); a fractional one is not an integer input.
    if isinstance(value, bool) or not float(value).is_integer():
        raise UnknownInput(f"expected an integer, got {value!r}")
    return int(value)


def translate(inputs: Mapping[str, Any], api_version: str) -> ContainerSpec:
    """The Engine API calls pulumi-docker's create makes for these Container inputs (see the module docstring)."""
    _refuse_unknown(inputs)
    cfg, host = _config(inputs), _host_config(inputs)
    _ports(inputs, cfg, host)
    _volumes(inputs, cfg, host)
    notes: list[str] = []
    dropped: list[str] = []
    if inputs.get("healthcheck") is not None:
        cfg["Healthcheck"] = _healthcheck(inputs["healthcheck"], api_version, notes, dropped)
    return ContainerSpec(
        name=inputs["name"],
        body={**cfg, "HostConfig": host},
        networks=[(n["name"], list(n.get("aliases") or [])) for n in inputs.get("networksAdvanced") or []],
        uploads=[_upload(u) for u in inputs.get("uploads") or []],
        start=bool(inputs.get("start", True)),
        wait=bool(inputs.get("wait", False)),
        wait_timeout=_int(inputs.get("waitTimeout", DEFAULT_WAIT_TIMEOUT)),
        destroy_grace_seconds=_int(inputs.get("destroyGraceSeconds", 0)),
        remove_volumes=bool(inputs.get("removeVolumes", True)),
        notes=notes,
        dropped=tuple(dropped),
    )


def _refuse_unknown(inputs: Mapping[str, Any]) -> None:
    if unknown := sorted(set(inputs) - KNOWN_INPUTS):
        raise UnknownInput(
            f"Container {inputs.get('name')!r} has input(s) {unknown} the check does not translate; "
            "teach testbed/docker/containers.py (and readback.py) what pulumi-docker does with them"
        )
    for prop, known in KNOWN_FIELDS.items():
        items = inputs.get(prop)
        for item in [] if items is None else items if isinstance(items, list) else [items]:
            if extra := sorted(set(item) - known):
                raise UnknownInput(
                    f"Container input {prop} has field(s) {extra} the check does not translate; "
                    f"known: {sorted(known)} (teach testbed/docker/containers.py)"
                )


def _config(inputs: Mapping[str, Any]) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "Image": inputs["image"],
        "Hostname": inputs.get("hostname", ""),
        "Domainname": inputs.get("domainname", ""),
        "Tty": bool(inputs.get("tty", False)),
        "OpenStdin": bool(inputs.get("stdinOpen", False)),
    }
    if inputs.get("command") and any(c == "" for c in inputs["command"]):
        raise ContainerFailed(f"{inputs['name']}: values for command may not be empty")
    cfg |= {api: list(inputs[key]) for key, api in CONFIG_LISTS.items() if inputs.get(key)}
    cfg |= {api: inputs[key] for key, api in CONFIG_STRINGS.items() if inputs.get(key)}
    if inputs.get("stopTimeout") is not None:
        cfg["StopTimeout"] = _int(inputs["stopTimeout"])
    if inputs.get("labels"):
        cfg["Labels"] = _labels(inputs["labels"])
    return cfg


def _host_config(inputs: Mapping[str, Any]) -> dict[str, Any]:
    # The booleans the read-back reads (privileged, rm, ...); networkMode is the one string among them.
    host: dict[str, Any] = {api: bool(inputs.get(key, False)) for key, api in READ_HOST.items()}
    restart = {"Name": inputs.get("restart", "no"), "MaximumRetryCount": _int(inputs.get("maxRetryCount", 0))}
    host |= {
        "NetworkMode": inputs.get("networkMode", "bridge"),
        "RestartPolicy": restart,
        "LogConfig": {"Type": inputs.get("logDriver", ""), "Config": dict(inputs.get("logOpts") or {}) or None},
        "Mounts": [],
    }
    for key, api in READ_MIB.items():
        if inputs.get(key):
            size = _int(inputs[key])
            host[api] = size * MIB if size > 0 else size  # memory_swap -1: unlimited, as it is
    if inputs.get("cpus"):
        host["NanoCpus"] = round(float(inputs["cpus"]) * 10**9)
    if inputs.get("cpuShares"):
        host["CpuShares"] = _int(inputs["cpuShares"])
    host |= {api: dict(inputs[key]) for key, api in HOST_DICTS.items() if inputs.get(key)}
    return host


def _ports(inputs: Mapping[str, Any], cfg: dict[str, Any], host: dict[str, Any]) -> None:
    if not inputs.get("ports"):
        return
    cfg["ExposedPorts"], host["PortBindings"] = {}, {}
    for p in inputs["ports"]:
        key = f"{_int(p['internal'])}/{p.get('protocol', 'tcp')}"
        cfg["ExposedPorts"][key] = {}
        host_port = str(_int(p["external"])) if "external" in p else ""
        binding = {"HostIp": p.get("ip", "0.0.0.0"), "HostPort": host_port}  # noqa: S104 - upstream's Default
        host["PortBindings"].setdefault(key, []).append(binding)


def _volumes(inputs: Mapping[str, Any], cfg: dict[str, Any], host: dict[str, Any]) -> None:
    if not inputs.get("volumes"):
        return
    binds, cfg["Volumes"] = [], {}
    for v in inputs["volumes"]:
        path = v.get("containerPath", "")
        source = v.get("hostPath") or v.get("volumeName", "")
        if not path:
            raise UnknownInput(f"{inputs['name']}: volume entry without container path: {v}")
        cfg["Volumes"][path] = {}
        if source:
            binds.append(f"{source}:{path}:{'ro' if v.get('readOnly') else 'rw'}")
    if binds:
        host["Binds"] = binds


def _healthcheck(hc: Mapping[str, Any], api_version: str, notes: list[str], dropped: list[str]) -> dict[str, Any]:
    health: dict[str, Any] = {"Test": list(hc.get("tests") or [])}
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"), ("startPeriod", "StartPeriod")):
        health[api] = parse_duration(hc.get(key, "0s"))
    start_interval = parse_duration(hc.get("startInterval", "0s"))
    if tuple(int(n) for n in api_version.split(".")) >= START_INTERVAL_API:
        health["StartInterval"] = start_interval
    elif start_interval:
        dropped.append("healthcheck.startInterval")
        notes.append(
            f"healthcheck start_interval {hc['startInterval']} dropped: this engine speaks API {api_version}, "
            "start_interval needs 1.44 (Docker 25+, which the stack requires)"
        )
    health["Retries"] = _int(hc.get("retries", 0))
    return health


def _upload(u: Mapping[str, Any]) -> Upload:
    given = [k for k in ("content", "contentBase64") if u.get(k)]
    if len(given) != 1:
        raise UnknownInput(f"upload {u.get('file')!r}: exactly one of content, contentBase64 must be set, got {given}")
    data = u["content"].encode() if "content" in given else base64.b64decode(u["contentBase64"])
    mode = int(u["permissions"], 8) if u.get("permissions") else 0o744 if u.get("executable") else 0o644
    return Upload(u["file"], data, mode)


def upload_tar(upload: Upload) -> bytes:
    """The one-file tar the provider extracts at `/` (its header name is the absolute path, as upstream's)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(upload.path)
        info.size, info.mode, info.mtime = len(upload.content), upload.mode, int(time.time())
        tar.addfile(info, io.BytesIO(upload.content))
    return buf.getvalue()


def create_and_start(client: Any, spec: ContainerSpec) -> str:
    created = client.api.create_container_from_config(spec.body, spec.name)
    cid = created["Id"]
    if spec.networks:
        try:
            client.api.disconnect_container_from_network(cid, "bridge")
        except Exception as exc:  # upstream ignores "is not connected to the network bridge"
            if "is not connected" not in str(exc):
                raise
        for net, aliases in spec.networks:
            client.api.connect_container_to_network(cid, net, aliases=aliases or None)
    for upload in spec.uploads:
        if not client.api.put_archive(cid, "/", upload_tar(upload)):
            raise ContainerFailed(f"{spec.name}: uploading {upload.path} failed")
    if spec.start:
        client.api.start(cid)
    return cid


def log_tail(client: Any, cid: str) -> str:
    try:
        return client.api.logs(cid, tail=60).decode(errors="replace")
    except Exception as exc:  # the container may be gone already
        return f"(no logs: {exc})"


def describe(inspect: Mapping[str, Any]) -> str:
    """State, health and the last probe outputs of a container, for an error message."""
    state = inspect.get("State") or {}
    health = state.get("Health") or {}
    probes = [
        f"  exit {p.get('ExitCode')}: {str(p.get('Output', '')).strip()[-300:]}" for p in (health.get("Log") or [])[-3:]
    ]
    return (
        f"status={state.get('Status')} exit_code={state.get('ExitCode')} oom_killed={state.get('OOMKilled')} "
        f"restarts={inspect.get('RestartCount')} health={health.get('Status')} "
        f"failing_streak={health.get('FailingStreak')}\n" + "\n".join(probes)
    )


def _health(info: Mapping[str, Any]) -> dict[str, Any] | None:
    return (info.get("State") or {}).get("Health")


def wait_healthy(client: Any, cid: str, spec: ContainerSpec, echo: Echo, *, observe_after_timeout: float = 0) -> float:
    """Wait as `wait=True` does: until Docker reports the container healthy, at most `wait_timeout` s; returns the
    seconds it took. A timeout raises with the state, the last probe outputs and the log tail, after watching
    `observe_after_timeout` s more only to say whether it became healthy later (`pulumi up` would have failed)."""
    t0 = time.monotonic()
    last = ""
    while time.monotonic() - t0 <= spec.wait_timeout:
        info = client.api.inspect_container(cid)
        health = _health(info)
        if health is None:
            raise ContainerFailed(f"{spec.name}: 'wait' is set but the container has no healthcheck")
        if health.get("Status") == "healthy":
            return time.monotonic() - t0
        now = f"{info['State'].get('Status')}/{health.get('Status')}/restarts={info.get('RestartCount')}"
        if now != last:
            echo(f"{spec.name}: {now} after {time.monotonic() - t0:.0f} s")
            last = now
        time.sleep(1)
    late = ""
    if observe_after_timeout > 0:
        deadline = time.monotonic() + observe_after_timeout
        late = " (still not healthy {:.0f} s after start)"
        while time.monotonic() < deadline:
            if (_health(client.api.inspect_container(cid)) or {}).get("Status") == "healthy":
                late = " (it became healthy {:.0f} s after start: wait_timeout is too short here)"
                break
            time.sleep(2)
        late = late.format(time.monotonic() - t0)
    info = client.api.inspect_container(cid)
    raise ContainerFailed(
        f"{spec.name} did not become healthy within its wait_timeout of {spec.wait_timeout} s{late}: "
        f"{describe(info)}\n--- last log lines of {spec.name} ---\n{log_tail(client, cid)}"
    )


def find(client: Any, name: str) -> dict[str, Any] | None:
    import docker.errors

    try:
        return client.api.inspect_container(name)
    except docker.errors.NotFound:
        return None


def ensure_network(client: Any, v: Mapping[str, Any]) -> str:
    """A Network's inputs as its provider creates it; one that exists is adopted when it matches."""
    labels, driver = _labels(v.get("labels")), v.get("driver", "bridge")
    found = [n for n in client.api.networks(names=[v["name"]]) if n["Name"] == v["name"]]
    if found:
        if (found[0].get("Labels") or {}) != labels or found[0].get("Driver") != driver:
            raise ContainerFailed(f"network {v['name']} exists with other labels or driver: {found[0]}")
        return "adopted"
    client.api.create_network(v["name"], driver=driver, labels=labels, check_duplicate=True)
    return "created"


def ensure_volume(client: Any, v: Mapping[str, Any]) -> str:
    if not missing(client.api.inspect_volume, v["name"]):
        return "adopted"
    labels, driver = _labels(v.get("labels")), v.get("driver", "local")
    client.api.create_volume(v["name"], driver=driver, driver_opts=v.get("driverOpts"), labels=labels)
    return "created"


def _labels(items: Any) -> dict[str, str]:
    return {x["label"]: x["value"] for x in items or []}


def missing(call: Callable[[str], Any], name: str) -> bool:
    """Whether `call(name)` finds nothing (docker's NotFound)."""
    import docker.errors

    try:
        call(name)
        return False
    except docker.errors.NotFound:
        return True


def remove(client: Any, name_or_id: str, *, grace: int = 0, remove_volumes: bool = True) -> bool:
    """Delete as the provider does: stop with `grace` seconds (0: killed at once), remove (force), wait until
    it is gone. Returns False when there was no such container."""
    import docker.errors

    if missing(lambda c: client.api.stop(c, timeout=grace), name_or_id):
        return False
    try:
        client.api.remove_container(name_or_id, v=remove_volumes, force=True)
    except docker.errors.NotFound:
        return True
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc):
            raise
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if find(client, name_or_id) is None:
            return True
        time.sleep(0.5)
    raise ContainerFailed(f"container {name_or_id} was not removed within 120 s")
