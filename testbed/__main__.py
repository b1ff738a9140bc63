"""`python -m testbed up|down|status|check`: the test bed's command line (make testbed-up/-down)."""

from __future__ import annotations

import argparse
import sys
import time

from testbed import bed, prereqs
from testbed.paths import endpoints_file
from testbed.proc import ServiceError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testbed", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start every service and wait until each is usable")
    p_up.add_argument(
        "--only",
        default=",".join(bed.ALL_SERVICES),
        help=f"comma-separated subset of {','.join(bed.ALL_SERVICES)} (default: all)",
    )
    p_down = sub.add_parser("down", help="stop every process the test bed started")
    p_down.add_argument("--keep", action="store_true", help="keep the data under .testbed/ (logs are always kept)")
    sub.add_parser("status", help="show the services, their state and memory")
    sub.add_parser("check", help="check what the test bed and the tests need (Java, Maven, Chromium, Docker)")
    p_demo = sub.add_parser("demo", help="the whole lakehouse flowing and visible: post-deploy steps + producer")
    p_demo.add_argument("--seconds", type=int, default=60, help="how long the producer sends (default 60)")
    p_demo.add_argument("--rate", type=int, default=200, help="events per second (default 200)")
    args = ap.parse_args(argv)

    if args.command == "check":
        problems = prereqs.check() + prereqs.browser_problems() + prereqs.docker_problems()
        for p in problems:
            print(f"MISSING: {p}")
        if not problems:
            print("all prerequisites found")
        return 1 if problems else 0
    if args.command == "demo":
        from testbed import demo

        if args.seconds < 1 or args.rate < 1:
            print("--seconds and --rate must be at least 1", file=sys.stderr)
            return 2
        return demo.main(args.seconds, args.rate)
    if args.command == "up":
        try:
            result = bed.up(services=[s.strip() for s in args.only.split(",") if s.strip()])
        except bed.AlreadyRunning as exc:
            # Not a second copy: say so, show the one that runs; success if it is healthy.
            print(exc)
            rows = bed.status_rows()
            if rows:
                print(bed.format_table(rows))
            return 0 if rows and all(r.state == "ready" for r in rows) else 2
        except (prereqs.PrerequisiteError, ServiceError) as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        time.sleep(1)  # let RSS settle past the readiness probes
        print(bed.format_table(bed.status_rows()))
        print(f"test bed up in {result.seconds:.1f} s; endpoints (with secrets, mode 600): {endpoints_file()}")
        return 0
    if args.command == "down":
        left = bed.down(keep=args.keep)
        return 1 if left else 0
    rows = bed.status_rows()
    if not rows:
        print("no test bed running")
        return 3
    print(bed.format_table(rows))
    return 0 if all(r.state == "ready" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
