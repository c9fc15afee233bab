"""Outbox rows for drain tests, written straight into the tables in one statement each."""

from __future__ import annotations

from typing import Any

import psycopg

INSERT_EVENTS = """
    INSERT INTO klaviyo.event_outbox
        (idempotency_key, metric_name, customer_id, email, profile, properties, value_cents,
         value_currency, occurred_at)
    SELECT %(prefix)s || n, %(metric)s, 'cust-' || (n %% %(profiles)s),
           'cust-' || (n %% %(profiles)s) || '@example.com',
           jsonb_build_object('external_id', 'cust-' || (n %% %(profiles)s),
                              'email', 'cust-' || (n %% %(profiles)s) || '@example.com'),
           jsonb_build_object('OrderId', n::text, 'ItemNames', jsonb_build_array('Lamp'),
                              'Items', jsonb_build_array(jsonb_build_object(
                                  'ProductID', 'p' || n, 'ItemPrice_cents', 1999,
                                  'Quantity', 1))),
           1999, 'USD', now() - interval '1 minute'
    FROM generate_series(1, %(count)s) AS n
"""


async def insert_events(
    conn: psycopg.AsyncConnection,
    count: int,
    *,
    prefix: str = "order:",
    metric: str = "Placed Order",
    profiles: int = 50,
) -> None:
    await conn.execute(
        INSERT_EVENTS, {"count": count, "prefix": prefix, "metric": metric, "profiles": profiles}
    )


async def event_statuses(conn: psycopg.AsyncConnection) -> dict[str, int]:
    cur = await conn.execute("SELECT status, count(*) FROM klaviyo.event_outbox GROUP BY status")
    return {status: n for status, n in await cur.fetchall()}


async def one(conn: psycopg.AsyncConnection, query: str, params: Any = None) -> Any:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    return row[0] if row and len(row) == 1 else row
