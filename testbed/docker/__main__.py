"""`python -m testbed.docker up|down|status|compare`: the stack's own containers on the local Docker engine, by hand.

up       images ensured (stand-ins under the official tags, the project's images), then every resource of the
         program created in its dependency order and waited for; run again, it adopts what exists
compare  what the next `pulumi up` would show as changed, per container (pulumi-docker's read-back)
down     the reverse order (dynamic deletes, containers, volumes, network), then anything left of the stack by
         name: works after a crash too
status   the stack's containers and their memory
The stack is `dockercheck` unless --stack says otherwise (Docker names `lakehouse-<stack>-*`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from testbed.docker.stack import DEFAULT_STACK, Deployment, StackError


def _echo(line: str) -> None:
    print(f"[docker {time.strftime('%H:%M:%S')}] {line}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testbed.docker", description=__doc__)
    ap.add_argument("command", choices=["up", "down", "status", "compare"])
    ap.add_argument("--stack", default=DEFAULT_STACK, help=f"stack name (default {DEFAULT_STACK})")
    ap.add_argument(
        "--skip-images", action="store_true", help="up: use the images on the engine as they are (no ensure_images)"
    )
    args = ap.parse_args(argv)
    try:
        from testbed.docker import engine

        client = engine.client(echo=_echo)
        if args.command == "up" and not args.skip_images:
            from lakehouse.versions import load
            from testbed.docker import images

            images.ensure_images(client, load(), _echo)
        dep = Deployment(client, stack=args.stack, echo=_echo)
        if args.command == "up":
            report = dep.up()
            print(json.dumps({"seconds": round(report.seconds), "actions": report.actions}, indent=1))
            if report.changes:
                print("replaced because they differed:", json.dumps(report.changes, indent=1))
        elif args.command == "compare":
            changes = dep.compare()
            for name, found in sorted(changes.items()):
                print(f"{name}: " + ("no change" if not found else "; ".join(str(c) for c in found)))
            return 1 if any(changes.values()) else 0
        elif args.command == "down":
            report = dep.down()
            print(f"down in {report.seconds:.0f} s; left: {dep.leftovers()}")
        else:
            from testbed.docker import inventory

            memory = inventory.memory(client, args.stack)
            for row in inventory.status_rows(client, args.stack):
                mem = memory.get(row["name"], {})
                used = f"{mem['usage'] / 2**20:.0f} MiB (peak {mem['peak'] / 2**20:.0f})" if mem else ""
                print(f"{row['name']:40} {row['status']:30} {used}")
            print(f"left by name: {dep.leftovers()}")
    except StackError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
