"""Create Superset's admin user, or bring an existing one in line with the configured password (rotation).

Run by Superset's own Python after `superset db upgrade` and `superset init`: in the stack's container (the
file is uploaded to /app/lakehouse/superset_admin.py, see components/superset.py) and in the test bed
(written into its SUPERSET_HOME), so both bootstrap the admin with this very code. Stand-alone on purpose: it
imports only Superset and the stdlib, never this project.

Why not `superset fab create-admin`: it skips an existing user ("User already exists", exit 0), so a new
`lakehouse:supersetAdminPassword` on a kept metadata volume changed nothing while the stack output showed the
new password; and it takes the password as a command-line argument, visible in the process list. This reads
SUPERSET_ADMIN_USER and SUPERSET_ADMIN_PASSWORD from the environment and, for an existing user, sets the
password when it differs, re-activates the account and gives it the Admin role back. It prints one line:
`admin user 'admin': created`, `...: password rotated` or `...: unchanged` (never the password).
"""

from __future__ import annotations

import os
import sys

USER_ENV = "SUPERSET_ADMIN_USER"
PASSWORD_ENV = "SUPERSET_ADMIN_PASSWORD"  # noqa: S105  # pragma: allowlist secret - the variable's name


def ensure_admin(sm, user: str, password: str, *, matches=None) -> str:
    """'created', 'password rotated', 'repaired' (role or active flag restored) or 'unchanged'.

    `sm` is Superset's security manager; `matches(hash, password)` checks a stored hash (werkzeug's, as FAB)."""
    if matches is None:
        from werkzeug.security import check_password_hash as matches

    admin_role = sm.find_role(sm.auth_role_admin)
    if admin_role is None:
        raise RuntimeError(f"Superset has no {sm.auth_role_admin!r} role: run `superset init` first")
    existing = sm.find_user(username=user)
    if existing is None:
        created = sm.add_user(user, "Lakehouse", "Admin", f"{user}@lakehouse.invalid", admin_role, password=password)
        if not created:
            raise RuntimeError(f"Superset refused to create the admin user {user!r} (see the log above)")
        return "created"
    outcome = "unchanged"
    if not existing.password or not matches(existing.password, password):
        sm.reset_password(existing.id, password)
        existing = sm.find_user(username=user)
        outcome = "password rotated"
    if not existing.active or admin_role not in existing.roles:
        existing.active = True
        if admin_role not in existing.roles:
            existing.roles = [*existing.roles, admin_role]
        sm.update_user(existing)
        outcome = "repaired" if outcome == "unchanged" else outcome
    return outcome


def main() -> int:
    user, password = os.environ.get(USER_ENV, ""), os.environ.get(PASSWORD_ENV, "")
    for name, value in ((USER_ENV, user), (PASSWORD_ENV, password)):
        if not value:
            print(f"{name} is not set: the admin user cannot be bootstrapped", file=sys.stderr)
            return 2
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset.extensions import security_manager

        try:
            outcome = ensure_admin(security_manager, user, password)
        except RuntimeError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    print(f"admin user {user!r}: {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
