"""Profile state rows as the admin API reads and requeues them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
import psycopg
from psycopg.rows import class_row

from app.http.pagination import Page
from app.klaviyo.outbox.producers import bootstrap_profiles, touch_customer

ProfileSyncStatus = Literal["pending", "synced", "failed", "skipped"]
SubscriptionStatus = Literal["subscribed", "unsubscribed", "suppressed", "never_subscribed"]


class KlaviyoProfileStateItem(msgspec.Struct, kw_only=True, rename="camel"):
    id: str
    customer_id: str | None
    email: str | None
    klaviyo_profile_id: str | None
    status: ProfileSyncStatus
    subscription_status: SubscriptionStatus
    last_error: str | None
    attempts: int
    last_synced_at: datetime | None
    updated_at: datetime


_COLUMNS = """
    id::text AS id, customer_id, email, klaviyo_profile_id, status, subscription_status,
    last_error, attempts, last_synced_at, updated_at
"""

# Newest first, along profile_state_updated_idx / profile_state_failed_idx.
LIST_PROFILES = f"""
    SELECT {_COLUMNS} FROM klaviyo.profile_state
    ORDER BY updated_at DESC, id LIMIT %(limit)s OFFSET %(offset)s
"""
LIST_FAILED_PROFILES = f"""
    SELECT {_COLUMNS} FROM klaviyo.profile_state WHERE status = 'failed'
    ORDER BY updated_at DESC, id LIMIT %(limit)s OFFSET %(offset)s
"""
# Exact totals that stay cheap on a million rows: the insert/delete counter of 0031 for all
# rows, an index-only count over the partial failed index for failed ones.
COUNT_PROFILES = """
    SELECT coalesce(sum(n), 0)::bigint FROM klaviyo.row_counts WHERE table_name = 'profile_state'
"""
COUNT_FAILED_PROFILES = "SELECT count(*) FROM klaviyo.profile_state WHERE status = 'failed'"


async def list_profile_rows(
    conn: psycopg.AsyncConnection, page: Page, *, failed_only: bool
) -> tuple[list[KlaviyoProfileStateItem], int]:
    """One page of state rows, newest first, and the total."""
    params = {"limit": page.limit, "offset": page.offset}
    async with conn.cursor(row_factory=class_row(KlaviyoProfileStateItem)) as cur:
        await cur.execute(LIST_FAILED_PROFILES if failed_only else LIST_PROFILES, params)
        items = await cur.fetchall()
    count_cur = await conn.execute(COUNT_FAILED_PROFILES if failed_only else COUNT_PROFILES)
    row = await count_cur.fetchone()
    return items, int(row[0]) if row else 0


async def resync_customer(conn: psycopg.AsyncConnection, customer_id: str) -> bool:
    """Touch the customer: its state row goes pending (created on first touch). False when the
    store has no such customer or the module is off: nothing was enqueued."""
    return await touch_customer(conn, customer_id) is not None


async def bootstrap_all(conn: psycopg.AsyncConnection) -> int:
    """Every live customer pending, in one set-based statement; answers how many."""
    return await bootstrap_profiles(conn)
