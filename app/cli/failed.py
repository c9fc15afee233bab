"""`failed SURFACE`: a surface's failed rows with their errors, newest first, as the API lists."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool

from app.cli.operator_session import EXIT_BAD_INPUT, EXIT_OK, fail, print_json, run_on_database
from app.cli.surface_counts import SURFACES
from app.config import Config

if TYPE_CHECKING:
    from app.http.pagination import Page

# Per surface: the field naming the row, and the time the list is ordered by.
_ROW_KEYS = {
    "profiles": ("customerId", "updatedAt"),
    "events": ("id", "enqueuedAt"),
    "catalog": ("variantId", "updatedAt"),
    "categories": ("categoryId", "updatedAt"),
    "coupons": ("discountId", "updatedAt"),
}
# What else helps an operator recognise the row.
_EXTRA_KEYS = {
    "profiles": ("email", "klaviyoProfileId"),
    "events": ("metricName", "idempotencyKey", "customerId"),
    "catalog": ("klaviyoCatalogItemId",),
    "categories": ("klaviyoCategoryId",),
    "coupons": ("lastPushedCode", "klaviyoCouponId"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "failed",
        help="list a surface's failed rows with their errors, newest first",
        description="The rows GET /admin/klaviyo/<surface>/failed lists, one page at a time. "
        "Requeue one with `python -m app resync SURFACE ID`.",
    )
    parser.add_argument("surface", choices=SURFACES, help="the surface to list")
    parser.add_argument("--limit", default=None, help="rows per page, 1..200 (default 50)")
    parser.add_argument("--page", default=None, help="page number from 1 (default 1)")
    parser.add_argument(
        "--json", action="store_true", help="print the admin API's envelope (data + metadata)"
    )
    parser.set_defaults(func=failed_command)


def failed_command(config: Config, args: argparse.Namespace) -> int:
    from app.http.errors import ValidationFailed
    from app.http.pagination import page_from_query

    # The same checks, and messages, as the list endpoints' page and limit.
    try:
        page = page_from_query(args.page, args.limit)
    except ValidationFailed as exc:
        return fail(f"--{exc.message}", EXIT_BAD_INPUT)
    return run_on_database(config, lambda pool, cfg: _failed(pool, args.surface, page, args.json))


async def list_failed_rows(
    conn: psycopg.AsyncConnection, surface: str, page: Page
) -> tuple[Sequence[msgspec.Struct], int]:
    """The list queries behind each surface's failed endpoint."""
    if surface == "profiles":
        from app.klaviyo.profiles.state_rows import list_profile_rows

        return await list_profile_rows(conn, page, failed_only=True)
    if surface == "events":
        from app.klaviyo.events.outbox_rows import list_failed_events

        return await list_failed_events(conn, page)
    from app.klaviyo.catalog import state_rows

    item_types: dict[str, type[msgspec.Struct]] = {
        "catalog": state_rows.KlaviyoCatalogStateItem,
        "categories": state_rows.KlaviyoCategoryStateItem,
        "coupons": state_rows.KlaviyoCouponStateItem,
    }
    return await state_rows.list_failed(conn, item_types[surface], page)


async def _failed(pool: AsyncConnectionPool, surface: str, page: Page, as_json: bool) -> int:
    from app.http.envelope import ok_list

    async with pool.connection() as conn:
        items, total = await list_failed_rows(conn, surface, page)

    if as_json:
        print_json(ok_list(items, total, page))
        return EXIT_OK
    _print_rows(surface, [msgspec.to_builtins(item) for item in items], total, page)
    return EXIT_OK


def _print_rows(surface: str, rows: list[dict], total: int, page: Page) -> None:
    if total == 0:
        print(f"No failed {surface}.")
        return
    if not rows:
        print(f"Page {page.page} is empty: {total} failed {surface} in all.")
        return
    first = page.offset + 1
    print(f"Failed {surface}: {total} (showing {first}-{page.offset + len(rows)}, newest first)")
    id_key, time_key = _ROW_KEYS[surface]
    for row in rows:
        extras = ", ".join(
            f"{key} {row[key]}" for key in _EXTRA_KEYS[surface] if row.get(key) is not None
        )
        print()
        print(f"{id_key} {row[id_key]}  attempts {row['attempts']}  {time_key} {row[time_key]}")
        if extras:
            print(f"  {extras}")
        print(f"  error: {row['lastError'] or '(no error recorded)'}")
