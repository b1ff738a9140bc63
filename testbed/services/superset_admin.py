"""Create (or re-key) Superset's admin user; run by the Superset virtualenv's Python, not by the test bed's.

`superset fab create-admin` takes the password as a command-line argument, visible to every local
user in the process list; this reads it from SUPERSET_ADMIN_PASSWORD instead. Stand-alone on purpose:
it imports only Superset.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from superset.app import create_app

    user, password = os.environ["SUPERSET_ADMIN_USER"], os.environ["SUPERSET_ADMIN_PASSWORD"]
    app = create_app()
    with app.app_context():
        from superset.extensions import security_manager as sm

        existing = sm.find_user(username=user)
        if existing:
            sm.reset_password(existing.id, password)
            print(f"admin user {user!r} existed: password reset")
            return 0
        created = sm.add_user(
            user, "Lakehouse", "Admin", f"{user}@testbed.invalid", sm.find_role("Admin"), password=password
        )
        if not created:
            print(f"could not create admin user {user!r}", file=sys.stderr)
            return 1
        print(f"admin user {user!r} created")
    return 0


if __name__ == "__main__":
    sys.exit(main())
