"""What of a stack is on the engine, found by name (every Docker name of a stack starts with `prefix(stack)`):
its containers' status and memory, what is left of it, and removing all of it (after a crash too)."""

from __future__ import annotations

from typing import Any

from testbed.docker import containers as C
from testbed.docker.recording import PROJECT


def prefix(stack: str) -> str:
    """What every Docker name of the stack starts with (components.containers.stack_prefix)."""
    return f"{PROJECT}-{stack}-"


def objects(client: Any, stack: str) -> dict[str, list[tuple[str, str]]]:
    """(id, name) of every container, volume and network whose name carries the stack's prefix."""
    p = prefix(stack)
    names = [(c["Id"], n.lstrip("/")) for c in client.api.containers(all=True) for n in c.get("Names") or []]
    volumes = [(v["Name"], v["Name"]) for v in (client.api.volumes() or {}).get("Volumes") or []]
    networks = [(n["Id"], n["Name"]) for n in client.api.networks()]
    found = {"containers": names, "volumes": volumes, "networks": networks}
    return {kind: [(i, name) for i, name in pairs if name.startswith(p)] for kind, pairs in found.items()}


def purge(client: Any, stack: str) -> list[str]:
    found = objects(client, stack)
    for cid, _ in found["containers"]:
        C.remove(client, cid)
    for name, _ in found["volumes"]:
        client.api.remove_volume(name, force=True)
    for nid, _ in found["networks"]:
        client.api.remove_network(nid)
    return [name for pairs in found.values() for _, name in pairs]


def status_rows(client: Any, stack: str) -> list[dict[str, Any]]:
    named = [((c.get("Names") or ["?"])[0].lstrip("/"), c) for c in client.api.containers(all=True)]
    rows = [{"name": n, "state": c.get("State"), "status": c.get("Status")} for n, c in named]
    return sorted((r for r in rows if r["name"].startswith(prefix(stack))), key=lambda r: r["name"])


def memory(client: Any, stack: str) -> dict[str, dict[str, int]]:
    """Per running container of the stack: `usage`, `peak` (cgroup v1's max_usage) and `limit`, bytes."""
    out = {}
    for row in status_rows(client, stack):
        if row["state"] == "running":
            mem = client.api.stats(row["name"], stream=False).get("memory_stats") or {}
            usage, limit = int(mem.get("usage") or 0), int(mem.get("limit") or 0)
            out[row["name"]] = {"usage": usage, "peak": int(mem.get("max_usage") or usage), "limit": limit}
    return out
