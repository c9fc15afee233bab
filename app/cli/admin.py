"""`admin token`: a signed Better-Auth session token for a local admin user."""

from __future__ import annotations

import argparse

from app.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    admin = subparsers.add_parser("admin", help="admin users and sessions for local use")
    actions = admin.add_subparsers(dest="action", metavar="ACTION", required=True)
    token = actions.add_parser(
        "token",
        help="create the user and a session if needed; print the signed token",
        description="Prints a value for `Authorization: Bearer …` or the "
        "better-auth.session_token cookie. The user's role is set to --role.",
    )
    token.add_argument("--email", required=True, help="the user's email (created when new)")
    token.add_argument("--role", default="admin", help="comma-separated roles (default admin)")
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
        print(issue_admin_token(config, url, email=email, role=role))
    return 0
