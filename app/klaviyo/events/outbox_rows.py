"""Event outbox rows as the admin API reads and requeues them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import msgspec
import psycopg
from psycopg.rows import class_row

from app.http.pagination import Page

EventSyncStatus = Literal["pending", "sent", "failed", "dropped"]


class KlaviyoEventOutboxItem(msgspec.Struct, kw_only=True, rename="camel"):
    id: str
    metric_name: str
    idempotency_key: str
    customer_id: str | None
    email: str | None
    status: EventSyncStatus
    occurred_at: datetime
    enqueued_at: datetime
    processed_at: datetime | None
    attempts: int
    last_error: str | None
    value_cents: int | None
    value_currency: str | None


# Newest first, along event_outbox_failed_idx.
LIST_FAILED_EVENTS = """
    SELECT id::text AS id, metric_name, idempotency_key, customer_id, email, status,
           occurred_at, enqueued_at, processed_at, attempts, last_error, value_cents,
           value_currency
    FROM klaviyo.event_outbox WHERE status = 'failed'
    ORDER BY enqueued_at DESC, id LIMIT %(limit)s OFFSET %(offset)s
"""
# An index-only count over the partial failed index: exact, and cheap while failures are few.
COUNT_FAILED_EVENTS = "SELECT count(*) FROM klaviyo.event_outbox WHERE status = 'failed'"

# Payloads are immutable: a resync only makes the row due again with a fresh attempt count.
# A lease in flight is left alone; the drain that holds it settles the row as it finds it.
REQUEUE_EVENT = """
    UPDATE klaviyo.event_outbox
    SET status = 'pending', attempts = 0, processed_at = NULL, next_attempt_at = now(),
        last_error = NULL, updated_at = now()
    WHERE id = %(id)s
"""


async def list_failed_events(
    conn: psycopg.AsyncConnection, page: Page
) -> tuple[list[KlaviyoEventOutboxItem], int]:
    params = {"limit": page.limit, "offset": page.offset}
    async with conn.cursor(row_factory=class_row(KlaviyoEventOutboxItem)) as cur:
        await cur.execute(LIST_FAILED_EVENTS, params)
        items = await cur.fetchall()
    count_cur = await conn.execute(COUNT_FAILED_EVENTS)
    row = await count_cur.fetchone()
    return items, int(row[0]) if row else 0


async def requeue_event(conn: psycopg.AsyncConnection, event_id: str) -> bool:
    """Reset the row for the drain's next tick; False when no row has this id."""
    try:
        row_id = uuid.UUID(event_id)
    except ValueError:
        return False
    cur = await conn.execute(REQUEUE_EVENT, {"id": row_id})
    return cur.rowcount == 1
