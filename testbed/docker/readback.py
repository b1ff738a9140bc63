"""What pulumi-docker would see on the next `pulumi up`: a container read back the way its provider reads it,
and the properties that read would show as changed against the program's inputs.

pulumi-docker 5.2.0 bridges kreuzwerker/terraform-provider-docker v4.5.0, whose create ends with a read: the next
`up` diffs against the read-back (healthcheck durations in Go's format, sizes in MiB, Docker's own MemorySwap),
not the inputs. The diff follows the Terraform SDK per property (UNSET); `ports` compare by internal port.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from testbed.docker.recording import walk

MIB = 1024 * 1024
NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration: "90s", "1m30s", "1.5h", "300ms" -> nanoseconds (an empty or bad string refused)."""
    s = text.strip()
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if s == "0":
        return 0
    pos, total = 0, 0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        total += int(whole or 0) * NS[unit]
        if frac:
            total += int(frac) * NS[unit] // 10 ** len(frac)
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(f"not a Go duration: {text!r} (e.g. '90s', '1m30s', '500ms')")
    return sign * total


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(): 0 -> "0s", 90 s -> "1m30s", 60 s -> "1m0s", 1.5 s -> "1.5s", 3 ms -> "3ms"."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 10**9:
        # Below a second Go picks the largest unit that keeps an integer part: ns, µs or ms.
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if u >= size:
                return sign + _fraction(u, size) + unit
    hours, rest = divmod(u, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    prefix = f"{hours}h{minutes}m" if hours else f"{minutes}m" if minutes else ""
    return sign + prefix + _fraction(rest, 10**9) + "s"


def _fraction(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def flatten_ports(port_map: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """upstream's flattenContainerPorts: one entry per binding, sorted by port then protocol."""
    keys = sorted((int(port), proto) for port, _, proto in (k.partition("/") for k in port_map or {}))
    return [
        {"internal": port, "external": int(b.get("HostPort") or 0), "ip": b.get("HostIp", ""), "protocol": proto}
        for port, proto in keys
        for b in (port_map or {})[f"{port}/{proto}"] or []
    ]


READ_CONFIG = {"hostname": "Hostname", "domainname": "Domainname", "user": "User", "workingDir": "WorkingDir"}
READ_CONFIG |= {"stopSignal": "StopSignal", "tty": "Tty", "stdinOpen": "OpenStdin"}
READ_HOST = {"rm": "AutoRemove", "readOnly": "ReadonlyRootfs", "publishAllPorts": "PublishAllPorts", "init": "Init"}
READ_HOST |= {"privileged": "Privileged", "networkMode": "NetworkMode"}
READ_MIB = {"memory": "Memory", "memoryReservation": "MemoryReservation"}
READ_MIB |= {"memorySwap": "MemorySwap", "shmSize": "ShmSize"}


def read_container(inspect: Mapping[str, Any], created_with: Mapping[str, Any]) -> dict[str, Any]:
    """The provider's state after its read: the inputs the container was created with (`created_with`, the
    Pulumi names, secrets unwrapped), overwritten by every property upstream's read sets from `inspect`."""
    cfg, host = inspect.get("Config") or {}, inspect.get("HostConfig") or {}
    restart, log = host.get("RestartPolicy") or {}, host.get("LogConfig") or {}
    state = dict(created_with)
    state |= {key: cfg.get(api, "") for key, api in READ_CONFIG.items()}
    state |= {key: host.get(api, "") for key, api in READ_HOST.items()}
    for key in ("tty", "stdinOpen", "rm", "readOnly", "publishAllPorts", "init", "privileged"):
        state[key] = bool(state[key])
    for key, api in READ_MIB.items():
        size = int(host.get(api) or 0)
        state[key] = size // MIB if size > 0 else size
    state["name"] = str(inspect.get("Name", "")).lstrip("/")
    image = str(created_with.get("image", ""))
    state["image"] = inspect.get("Image") if image.startswith("sha256:") else cfg.get("Image")
    state["command"] = list(cfg.get("Cmd") or [])
    state["entrypoints"] = list(cfg.get("Entrypoint") or [])
    state["restart"] = restart.get("Name", "")
    state["maxRetryCount"] = int(restart.get("MaximumRetryCount") or 0)
    if "ports" in created_with:  # read only when the program has ports
        state["ports"] = flatten_ports((inspect.get("NetworkSettings") or {}).get("Ports"))
    state["cpuShares"] = int(host.get("CpuShares") or 0)
    if int(host.get("NanoCpus") or 0) > 0:
        state["cpus"] = _fraction(int(host["NanoCpus"]), 10**9)
    state["logDriver"] = log.get("Type", "")
    if "logOpts" in created_with:
        state["logOpts"] = dict(log.get("Config") or {})
    state["tmpfs"] = dict(host.get("Tmpfs") or {})
    state["sysctls"] = dict(host.get("Sysctls") or {})
    health = cfg.get("Healthcheck")
    if health is not None:
        durations = {k: go_duration(int(health.get(k[0].upper() + k[1:]) or 0)) for k in HEALTHCHECK_DURATIONS}
        state["healthcheck"] = {
            "tests": list(health.get("Test") or []),
            **durations,
            "retries": int(health.get("Retries") or 0),
        }
    state["stopTimeout"] = cfg.get("StopTimeout")
    return state


# A property the program leaves unset (upstream's schema): "default": the Default stands in; "computed":
# Optional+Computed, never differs; "zero": plain Optional, differs unless the state holds the type's zero value.
UNSET: dict[str, tuple[str, Any]] = {
    "name": ("computed", None),
    "image": ("computed", None),
    "rm": ("default", False),
    "readOnly": ("default", False),
    "hostname": ("computed", None),
    "domainname": ("zero", ""),
    "command": ("computed", None),
    "entrypoints": ("computed", None),
    "user": ("zero", ""),
    "publishAllPorts": ("zero", False),
    "restart": ("default", "no"),
    "maxRetryCount": ("zero", 0),
    "init": ("computed", None),
    "workingDir": ("zero", ""),
    "ports": ("zero", []),
    "privileged": ("zero", False),
    "memory": ("zero", 0),
    "memoryReservation": ("default", 0),
    "memorySwap": ("zero", 0),
    "shmSize": ("computed", None),
    "cpuShares": ("zero", 0),
    "cpus": ("zero", ""),
    "logDriver": ("computed", None),
    "logOpts": ("zero", {}),
    "networkMode": ("default", "bridge"),
    "tmpfs": ("zero", {}),
    "sysctls": ("zero", {}),
    "healthcheck": ("computed", None),
    "tty": ("default", False),
    "stdinOpen": ("default", False),
    "stopSignal": ("computed", None),
    "stopTimeout": ("computed", None),
    # Not read: the state keeps the creating run's inputs (a diff only if the program's inputs change).
    "envs": ("computed", None),
    "labels": ("computed", None),
    "volumes": ("zero", []),
    "uploads": ("zero", []),
    "networksAdvanced": ("zero", []),
}
HEALTHCHECK_DURATIONS = ("interval", "timeout", "startPeriod", "startInterval")
HEALTHCHECK_DEFAULTS = {**dict.fromkeys(HEALTHCHECK_DURATIONS, "0s"), "retries": 0}
# Compared as sets (TypeSet upstream); a list of objects becomes a set of their sorted items.
SETS = ("envs", "labels", "volumes", "uploads", "networksAdvanced")
# "" in the program means "leave Docker's value" (upstream's DiffSuppressFunc).
EMPTY_IS_NOOP = ("user", "workingDir")


@dataclass(frozen=True)
class Change:
    """One property the next `pulumi up` would show as changed: the state's value and the program's."""

    prop: str
    state: Any
    program: Any

    def __str__(self) -> str:
        return f"{self.prop}: {self.state!r} => {self.program!r}"


def _canon(value: Any) -> Any:
    return walk(value, lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)


def _as_set(value: Any) -> frozenset[Any]:
    def freeze(v: Any) -> Any:
        if isinstance(v, dict):
            return tuple(sorted((k, freeze(x)) for k, x in v.items()))
        if isinstance(v, list):
            return frozenset(freeze(x) for x in v)
        return v

    return frozenset(freeze(v) for v in (value or []))


def _ports_differ(state: list[dict[str, Any]], program: list[dict[str, Any]]) -> bool:
    """upstream's suppressIfPortsDidNotChangeForMigrationV0ToV1, with the Defaults (ip 0.0.0.0, tcp) applied."""

    def norm(p: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "internal": p.get("internal"),
            "external": p.get("external"),
            "ip": p.get("ip") or "0.0.0.0",  # noqa: S104 - upstream's Default for an unset ip
            "protocol": p.get("protocol") or "tcp",
        }

    old, new = [norm(p) for p in state], [norm(p) for p in program]

    def differs(o: dict[str, Any]) -> bool:
        same = [n for n in new if n["internal"] == o["internal"]]
        if not same:
            return True
        n = same[0]
        protocol_gone = n["protocol"] != o["protocol"] and not any(x["protocol"] == o["protocol"] for x in same)
        return protocol_gone or n["external"] != o["external"] or n["ip"] != o["ip"]

    return len(old) != len(new) or any(differs(o) for o in old)


def diff_container(state: Mapping[str, Any], program: Mapping[str, Any], *, skip: tuple[str, ...] = ()) -> list[Change]:
    """The properties whose state (after the read) differs from the program's inputs, by upstream's rules.
    `skip` names properties (or `healthcheck.<field>`) left out, each for a reason the caller reports."""
    state, program = _canon(dict(state)), _canon(dict(program))
    changes: list[Change] = []
    for prop, (kind, default) in UNSET.items():
        if prop in skip:
            continue
        if kind == "computed" and prop not in program:
            continue
        old, new = state.get(prop), program.get(prop, default)
        if prop in EMPTY_IS_NOOP and new == "":
            continue
        if prop == "healthcheck":
            changes += _diff_healthcheck(old or {}, new or {}, skip)
        elif prop == "ports":
            if _ports_differ(old or [], new or []):
                changes.append(Change(prop, old, new))
        elif prop in SETS:
            if _as_set(old) != _as_set(new):
                changes.append(Change(prop, old, program.get(prop)))
        elif kind == "zero" and prop not in program and old in (None, default):
            continue
        elif old != new:
            # An unset input shows as None (the plan's "=> null"), whatever default it is compared as.
            changes.append(Change(prop, old, program.get(prop)))
    return changes


def _diff_healthcheck(old: Mapping[str, Any], new: Mapping[str, Any], skip: tuple[str, ...]) -> list[Change]:
    out = []
    if list(old.get("tests") or []) != list(new.get("tests") or []):
        out.append(Change("healthcheck.tests", old.get("tests"), new.get("tests")))
    for key, default in HEALTHCHECK_DEFAULTS.items():
        if f"healthcheck.{key}" in skip:
            continue
        a, b = old.get(key, default), new.get(key, default)
        if a != b:
            out.append(Change(f"healthcheck.{key}", a, b))
    return out
