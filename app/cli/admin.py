"""`admin token`: a signed Better-Auth session token for a local admin user."""

from __future__ import annotations

import argparse
import sys

from app.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    admin = subparsers.add_parser("admin", help="admin users and sessions for local use")
    actions = admin.add_subparsers(dest="action", metavar="ACTION", required=True)
    token = actions.add_parser(
        "token",
        help="create the user and a session if needed; print the signed token",
        description="Prints a value for `Authorization: Bearer …` or the "
        "better-auth.session_token cookie on stdout. A new user gets --role; an existing "
        "user's role is left as it is unless --set-role is given (what happened is said on "
        "stderr).",
    )
    token.add_argument("--email", required=True, help="the user's email (created when new)")
    token.add_argument(
        "--role", default="admin", help="comma-separated roles of a new user (default admin)"
    )
    token.add_argument(
        "--set-role",
        action="store_true",
        help="replace the role of an existing user with --role",
    )
    token.set_defaults(func=print_token)


def print_token(config: Config, args: argparse.Namespace) -> int:
    from app.auth.tokens import issue_admin_token
    from app.db.target import database_for_command
    from app.local_secrets import with_local_secrets

    email = args.email.strip()
    if "@" not in email:
        print(f"--email must be an email address, got {args.email!r}")
        return 2
    role = ",".join(r.strip() for r in args.role.split(",") if r.strip())
    if not role:
        print("--role must name at least one role")
        return 2
    config = with_local_secrets(config)
    from app.db.migrate import migrate

    with database_for_command(config) as url:
        migrate(url)  # idempotent; a fresh machine has no Better-Auth tables yet
        issued = issue_admin_token(config, url, email=email, role=role, set_role=args.set_role)
    print(issued.token)
    print(_role_note(email, role, issued.role, issued.role_change), file=sys.stderr)
    return 0


def _role_note(email: str, asked: str, role: str | None, change: str) -> str:
    """One line on stderr, so `TOKEN=$(python -m app admin token …)` still captures the token."""
    current = role if role is not None else "user (no role set)"
    if change == "created":
        return f"Created {email} with role {current}."
    if change == "set":
        return f"Set the role of the existing user {email} to {current}."
    if change == "same":
        return f"{email} already exists with role {current}."
    return (
        f"{email} already exists with role {current}; it was left unchanged, so this session "
        f"has role {current}, not {asked}. Pass --set-role to change it."
    )
