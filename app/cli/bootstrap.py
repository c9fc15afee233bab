"""`bootstrap SURFACE`: enqueue every row of a surface, then optionally watch it drain."""

from __future__ import annotations

import argparse
import asyncio
import time

import psycopg
from psycopg_pool import AsyncConnectionPool
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.cli.operator_session import (
    EXIT_FAILED,
    EXIT_OK,
    fail,
    print_json,
    require_module,
    run_on_database,
)
from app.cli.surface_counts import SurfaceCounts, read_surface_counts
from app.config import Config

# Coupons have no bootstrap (the contract: per-discount resync suffices); events are immutable.
BOOTSTRAP_SURFACES = ("profiles", "catalog", "categories")
DEFAULT_TIMEOUT_S = 600.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bootstrap",
        help="enqueue every row of a surface for a push (as POST .../bootstrap)",
        description="Marks every customer (profiles), variant (catalog) or category (categories) "
        "pending, as the bootstrap endpoints do, and prints how many were enqueued. Running it "
        "again re-enqueues the same rows; it never creates duplicates. A worker must be running "
        "for the rows to drain.",
    )
    parser.add_argument("surface", choices=BOOTSTRAP_SURFACES, help="the surface to bootstrap")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="then show the surface draining until no row waits (exit 1 on timeout)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long --wait waits (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--poll-interval",
        type=_positive_seconds,
        default=1.0,
        metavar="SECONDS",
        help="how often --wait reads the counts (default 1)",
    )
    parser.add_argument("--json", action="store_true", help='print {"enqueued": N}')
    parser.set_defaults(func=bootstrap_command)


def _positive_seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {raw!r}")
    return value


def bootstrap_command(config: Config, args: argparse.Namespace) -> int:
    return run_on_database(config, lambda pool, cfg: _bootstrap(pool, cfg, args))


async def enqueue_surface(conn: psycopg.AsyncConnection, surface: str) -> int:
    """The service functions behind the bootstrap endpoints."""
    if surface == "profiles":
        from app.klaviyo.profiles.state_rows import bootstrap_all

        return await bootstrap_all(conn)
    from app.klaviyo.catalog.state_rows import bootstrap

    return await bootstrap(conn, surface)


async def _bootstrap(pool: AsyncConnectionPool, config: Config, args: argparse.Namespace) -> int:
    require_module(config)
    async with pool.connection() as conn:
        enqueued = await enqueue_surface(conn, args.surface)

    if args.json:
        print_json({"enqueued": enqueued})
    else:
        print(f"{args.surface}: {enqueued} enqueued")
    if not args.wait:
        return EXIT_OK
    return await _watch_drain(pool, args.surface, args.timeout, args.poll_interval)


async def _watch_drain(
    pool: AsyncConnectionPool, surface: str, timeout_s: float, poll_s: float
) -> int:
    """A progress bar of the surface's waiting rows going down, read from the dashboard view."""
    console = Console(stderr=True)
    deadline = time.monotonic() + timeout_s
    counts = await _counts(pool, surface)
    total = max(counts.waiting, 1)
    with Progress(
        TextColumn(f"[bold]{surface}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(surface, total=total, completed=total - counts.waiting, detail="")
        while True:
            # New touches while draining raise the total instead of moving the bar back.
            total = max(total, counts.waiting)
            progress.update(
                task,
                total=total,
                completed=total - counts.waiting,
                detail=f"waiting {counts.waiting}, failed {counts.failed}",
            )
            if counts.waiting == 0 or time.monotonic() >= deadline:
                break
            await asyncio.sleep(poll_s)
            counts = await _counts(pool, surface)

    if counts.waiting:
        return fail(
            f"timed out after {timeout_s:g}s: {counts.waiting} {surface} rows still waiting "
            "(is a worker running? `procrastinate --app=app.worker.procrastinate_app worker`)",
            EXIT_FAILED,
        )
    print(
        f"{surface}: drained, nothing waits ({counts.done} done, {counts.failed} failed, "
        f"{counts.other} other in all)"
    )
    if counts.failed:
        print(f"see the failures: python -m app failed {surface}")
    return EXIT_OK


async def _counts(pool: AsyncConnectionPool, surface: str) -> SurfaceCounts:
    async with pool.connection() as conn:
        (counts,) = await read_surface_counts(conn, (surface,))
    return counts
