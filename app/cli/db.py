"""`migrate` and `db start|stop|url`: the database the service runs on."""

from __future__ import annotations

import argparse

from app.config import Config
from app.db.embedded import EmbeddedServer
from app.db.migrate import migrate
from app.db.target import database_for_command, resolve_database_url


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="apply pending migrations (idempotent)")
    parser.set_defaults(func=run_migrate)

    db = subparsers.add_parser("db", help="the embedded PostgreSQL used when DATABASE_URL is unset")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("start", help="start it (no-op when running)").set_defaults(func=db_start)
    actions.add_parser("stop", help="stop it").set_defaults(func=db_stop)
    actions.add_parser("url", help="print the database URL").set_defaults(func=db_url)


def run_migrate(config: Config, args: argparse.Namespace) -> int:
    with database_for_command(config) as url:
        applied = migrate(url)
    print(f"migrations applied: {len(applied)}" + (f" ({', '.join(applied)})" if applied else ""))
    return 0


def db_start(config: Config, args: argparse.Namespace) -> int:
    print(resolve_database_url(config))
    return 0


def db_stop(config: Config, args: argparse.Namespace) -> int:
    if config.database_url:
        print("DATABASE_URL is set: the embedded server is not in use")
        return 0
    EmbeddedServer(config.data_dir).stop()
    return 0


def db_url(config: Config, args: argparse.Namespace) -> int:
    print(resolve_database_url(config))
    return 0
