"""Catalog, category and coupon state rows as the admin API lists, resyncs and bootstraps them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeVar

import msgspec
import psycopg
from psycopg.rows import class_row

from app.http.errors import ValidationFailed
from app.http.pagination import Page

CatalogSyncStatus = Literal["pending", "submitted", "synced", "failed", "deleted", "skipped"]
StateSyncStatus = Literal["pending", "synced", "failed", "deleted", "skipped"]

T = TypeVar("T", bound=msgspec.Struct)

# Store ids are text; anything longer or with control characters is no store id.
MAX_ID_LENGTH = 255


class KlaviyoCatalogStateItem(msgspec.Struct, kw_only=True, rename="camel"):
    variant_id: str
    klaviyo_catalog_item_id: str | None
    status: CatalogSyncStatus
    last_error: str | None
    attempts: int
    last_pushed_at: datetime | None
    updated_at: datetime


class KlaviyoCategoryStateItem(msgspec.Struct, kw_only=True, rename="camel"):
    category_id: str
    klaviyo_category_id: str | None
    status: StateSyncStatus
    last_error: str | None
    attempts: int
    last_pushed_at: datetime | None
    updated_at: datetime


class KlaviyoCouponStateItem(msgspec.Struct, kw_only=True, rename="camel"):
    discount_id: str
    klaviyo_coupon_id: str | None
    klaviyo_coupon_code_id: str | None
    last_pushed_code: str | None
    status: StateSyncStatus
    last_error: str | None
    attempts: int
    last_pushed_at: datetime | None
    updated_at: datetime


_COMMON = "status, last_error, attempts, last_pushed_at, updated_at"

# Newest first along each table's partial failed index.
LIST_FAILED: dict[type[msgspec.Struct], str] = {
    KlaviyoCatalogStateItem: f"""
        SELECT variant_id, klaviyo_catalog_item_id, {_COMMON} FROM klaviyo.catalog_state
        WHERE status = 'failed' ORDER BY updated_at DESC, id LIMIT %(limit)s OFFSET %(offset)s
    """,
    KlaviyoCategoryStateItem: f"""
        SELECT category_id, klaviyo_category_id, {_COMMON} FROM klaviyo.category_state
        WHERE status = 'failed' ORDER BY updated_at DESC, id LIMIT %(limit)s OFFSET %(offset)s
    """,
    KlaviyoCouponStateItem: f"""
        SELECT discount_id, klaviyo_coupon_id, klaviyo_coupon_code_id, last_pushed_code,
               {_COMMON}
        FROM klaviyo.coupon_state
        WHERE status = 'failed' ORDER BY updated_at DESC, id LIMIT %(limit)s OFFSET %(offset)s
    """,
}
COUNT_FAILED: dict[type[msgspec.Struct], str] = {
    KlaviyoCatalogStateItem: "SELECT count(*) FROM klaviyo.catalog_state WHERE status = 'failed'",
    KlaviyoCategoryStateItem: (
        "SELECT count(*) FROM klaviyo.category_state WHERE status = 'failed'"
    ),
    KlaviyoCouponStateItem: "SELECT count(*) FROM klaviyo.coupon_state WHERE status = 'failed'",
}

# Resync creates the row even for an id the store does not hold (the drain then skips it with
# the reason); with the module off nothing is recorded.
RESYNC = {
    "variant": "SELECT klaviyo.resync_variant(%s) WHERE klaviyo.module_enabled()",
    "category": "SELECT klaviyo.resync_category(%s) WHERE klaviyo.module_enabled()",
    "discount": "SELECT klaviyo.resync_discount(%s) WHERE klaviyo.module_enabled()",
}
BOOTSTRAP = {
    "catalog": "SELECT klaviyo.bootstrap_catalog()",
    "categories": "SELECT klaviyo.bootstrap_categories()",
}


async def list_failed(
    conn: psycopg.AsyncConnection, item_type: type[T], page: Page
) -> tuple[list[T], int]:
    """One page of failed rows, newest first, and their total."""
    params = {"limit": page.limit, "offset": page.offset}
    async with conn.cursor(row_factory=class_row(item_type)) as cur:
        await cur.execute(LIST_FAILED[item_type], params)
        items = await cur.fetchall()
    count_cur = await conn.execute(COUNT_FAILED[item_type])
    row = await count_cur.fetchone()
    return items, int(row[0]) if row else 0


def checked_id(name: str, value: str) -> str:
    """A path id as the store could hold it, or 400 VALIDATION_ERROR naming the parameter."""
    if not value.strip() or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise ValidationFailed.field(name, f"{name} must be 1-{MAX_ID_LENGTH} printable characters")
    return value


async def resync(conn: psycopg.AsyncConnection, kind: str, entity_id: str) -> bool:
    cur = await conn.execute(RESYNC[kind], (entity_id,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def bootstrap(conn: psycopg.AsyncConnection, surface: str) -> int:
    cur = await conn.execute(BOOTSTRAP[surface])
    row = await cur.fetchone()
    return int(row[0]) if row else 0
