"""`resync SURFACE ID`: requeue one row for the drain's next tick, as POST .../resync/:id does."""

from __future__ import annotations

import argparse

import psycopg
from psycopg_pool import AsyncConnectionPool

from app.cli.operator_session import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    BadInput,
    fail,
    print_json,
    require_module,
    run_on_database,
)
from app.cli.surface_counts import SURFACES
from app.config import Config

# The id each surface's resync endpoint takes, by its contract name.
ID_NAMES = {
    "profiles": "customerId",
    "events": "eventId",
    "catalog": "variantId",
    "categories": "categoryId",
    "coupons": "discountId",
}
# Why a well-formed id can answer false.
_NOT_ENQUEUED = {
    "profiles": "the store has no such customer, or the module is off in the database",
    "events": "no event outbox row has this id",
    "catalog": "the module is off in the database",
    "categories": "the module is off in the database",
    "coupons": "the module is off in the database",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "resync",
        help="requeue one row: a customer, event, variant, category or discount",
        description="Fire and forget, as the resync endpoints: the row is due again and a "
        "drain pushes it on its next tick. profiles takes a customer id, events an outbox row "
        "id (a failed or already sent event is sent again, same unique_id), catalog a variant "
        "id, categories a category id, coupons a discount id. Prints enqueued: true|false; a "
        "malformed id exits 2.",
    )
    parser.add_argument("surface", choices=SURFACES, help="the surface of the row")
    parser.add_argument("id", help="the row's id (see above)")
    parser.add_argument("--json", action="store_true", help='print {"enqueued": true|false}')
    parser.set_defaults(func=resync_command)


def resync_command(config: Config, args: argparse.Namespace) -> int:
    # A malformed id is refused before any database is touched.
    try:
        row_id = checked_row_id(args.surface, args.id)
    except BadInput as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    return run_on_database(config, lambda pool, cfg: _resync(pool, cfg, args, row_id))


def checked_row_id(surface: str, row_id: str) -> str:
    """The id checks of the resync endpoints; BadInput names the id and what is wrong."""
    from app.http.errors import ValidationFailed

    name = ID_NAMES[surface]
    if surface == "events":
        from app.klaviyo.events.routes import EVENT_ID_FORMAT

        if not EVENT_ID_FORMAT.match(row_id):
            raise BadInput(
                f"{name} {row_id!r} is not an outbox row id (lowercase hex and dashes, "
                "at least 8 characters)"
            )
        return row_id
    from app.klaviyo.catalog.state_rows import checked_id

    try:
        return checked_id(name, row_id)
    except ValidationFailed as exc:
        raise BadInput(f"{exc.message}, got {row_id!r}") from None


async def requeue_row(conn: psycopg.AsyncConnection, surface: str, row_id: str) -> bool:
    """The service functions behind the resync endpoints."""
    if surface == "profiles":
        from app.klaviyo.profiles.state_rows import resync_customer

        return await resync_customer(conn, row_id)
    if surface == "events":
        from app.klaviyo.events.outbox_rows import requeue_event

        return await requeue_event(conn, row_id)
    from app.klaviyo.catalog.state_rows import resync

    kind = {"catalog": "variant", "categories": "category", "coupons": "discount"}[surface]
    return await resync(conn, kind, row_id)


async def _resync(
    pool: AsyncConnectionPool, config: Config, args: argparse.Namespace, row_id: str
) -> int:
    require_module(config)
    async with pool.connection() as conn:
        enqueued = await requeue_row(conn, args.surface, row_id)

    if args.json:
        print_json({"enqueued": enqueued})
    elif enqueued:
        print(f"enqueued: true ({args.surface} {row_id} is due on the drain's next tick)")
    else:
        print(f"enqueued: false ({_NOT_ENQUEUED[args.surface]})")
    return EXIT_OK
