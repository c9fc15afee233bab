"""`status`: the connection facts of GET /admin/klaviyo/status plus per-surface counts."""

from __future__ import annotations

import argparse

import msgspec
from psycopg_pool import AsyncConnectionPool
from rich.console import Console
from rich.table import Table

from app.cli.operator_session import EXIT_OK, print_json, run_on_database
from app.cli.surface_counts import SurfaceCounts, age_text, read_surface_counts
from app.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="connection, kill switches and per-surface counts",
        description="The facts of GET /admin/klaviyo/status (the API key masked) and, per "
        "surface, the rows waiting, done, failed and settled otherwise, with the age of the "
        "oldest waiting row (from klaviyo.dashboard_surface_status and dashboard_backlog).",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=status_command)


def status_command(config: Config, args: argparse.Namespace) -> int:
    return run_on_database(config, lambda pool, cfg: _status(pool, cfg, as_json=args.json))


async def _status(pool: AsyncConnectionPool, config: Config, *, as_json: bool) -> int:
    from app.klaviyo.connection.service import connection_status
    from app.klaviyo.secrets import SecretCipher

    connection = await connection_status(pool, SecretCipher.from_keys(config.app_encryption_keys))
    async with pool.connection() as conn:
        surfaces = await read_surface_counts(conn)

    if as_json:
        print_json({**msgspec.to_builtins(connection), "surfaces": surfaces})
    else:
        _print_status(msgspec.to_builtins(connection), surfaces)
    return EXIT_OK


def _yes_no(value: bool) -> str:
    return "on" if value else "off"


def _print_status(connection: dict, surfaces: list[SurfaceCounts]) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if connection["connected"]:
        account = (
            f"yes: account {connection['accountId']}, since {connection['connectedAt']}, "
            f"key {connection['apiKeyMasked']}"
        )
    else:
        account = "no (POST /admin/klaviyo/connect with an API key)"
    configuration = connection["configuration"]
    missing = ", ".join(configuration["missingKeys"]) or "none"
    switches = ", ".join(
        f"{name} {_yes_no(on)}" for name, on in connection["perSurfaceEnabled"].items()
    )
    console.print(f"Connected:      {account}")
    console.print(f"Sync:           {_yes_no(connection['syncEnabled'])} (master switch)")
    console.print(f"Per surface:    {switches}")
    console.print(
        f"Configuration:  feed {configuration['feed']}, missing {missing}, "
        f"revision {configuration['revision']}"
    )

    table = Table(title="Surfaces", title_justify="left")
    columns = ("surface", "waiting", "done", "failed", "other", "total", "backing off", "oldest")
    for column in columns:
        table.add_column(column, justify="left" if column == "surface" else "right")
    for row in surfaces:
        table.add_row(
            row.surface,
            str(row.waiting),
            str(row.done),
            str(row.failed),
            str(row.other),
            str(row.total),
            str(row.backing_off),
            age_text(row.oldest_pending_age_s),
        )
    console.print(table)
    console.print(
        "waiting: pending or in a bulk job; done: synced/sent; other: skipped, dropped or "
        "deleted; oldest: age of the oldest waiting row"
    )
