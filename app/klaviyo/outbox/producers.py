"""Producers of the outbox for Python callers: thin wrappers over the SQL functions.

Each runs on the caller's connection, inside the caller's transaction: a rolled-back store
write takes its state row and outbox rows with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb


async def touch_customer(conn: psycopg.AsyncConnection, customer_id: str) -> UUID | None:
    """Marks the customer's profile pending; answers the state row id (None: module off or no
    such customer)."""
    cur = await conn.execute("SELECT klaviyo.touch_customer(%s)", (customer_id,))
    row = await cur.fetchone()
    return row[0] if row else None


async def record_event(
    conn: psycopg.AsyncConnection,
    *,
    idempotency_key: str,
    metric_name: str,
    occurred_at: datetime,
    customer_id: str | None = None,
    email: str | None = None,
    profile: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    value_cents: int | None = None,
    value_currency: str | None = None,
    backfill: bool | None = None,
    unique_id: str | None = None,
) -> UUID | None:
    """Records one event; answers its row id, or None when the key was already recorded (or
    the module is off). `backfill=None` lets the configured age decide."""
    cur = await conn.execute(
        """
        SELECT klaviyo.record_event(
            idempotency_key => %s, metric_name => %s, customer_id => %s, email => %s,
            profile => %s, properties => %s, value_cents => %s, value_currency => %s,
            occurred_at => %s, backfill => %s, unique_id => %s)
        """,
        (
            idempotency_key,
            metric_name,
            customer_id,
            email,
            Jsonb(profile) if profile is not None else None,
            Jsonb(properties) if properties is not None else None,
            value_cents,
            value_currency,
            occurred_at,
            backfill,
            unique_id,
        ),
    )
    row = await cur.fetchone()
    return row[0] if row else None


async def bootstrap_profiles(conn: psycopg.AsyncConnection) -> int:
    """Marks every live customer pending in one statement; answers how many."""
    cur = await conn.execute("SELECT klaviyo.bootstrap_profiles()")
    row = await cur.fetchone()
    return int(row[0]) if row else 0
