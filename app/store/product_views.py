"""Product views of the reference store (what a storefront's tracking writes)."""

from __future__ import annotations

from datetime import datetime

import psycopg


async def record_product_view(
    conn: psycopg.AsyncConnection,
    product_id: str,
    *,
    customer_id: str | None = None,
    email: str | None = None,
    variant_id: str | None = None,
    viewed_at: datetime | None = None,
) -> str:
    """Answers the view's id (as text, the form klaviyo_source.product_views gives it)."""
    cur = await conn.execute(
        """
        INSERT INTO core.product_views (customer_id, email, product_id, variant_id, viewed_at)
        VALUES (%s, %s, %s, %s, coalesce(%s, now()))
        RETURNING id::text
        """,
        (customer_id, email, product_id, variant_id, viewed_at),
    )
    row = await cur.fetchone()
    assert row is not None
    return row[0]
