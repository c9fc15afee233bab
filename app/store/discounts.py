"""Discounts (coupon codes) of the reference store."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg


async def create_discount(
    conn: psycopg.AsyncConnection,
    code: str,
    *,
    percent_off: Decimal | float | None = None,
    amount_off_minor: int | None = None,
    currency: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    discount_id: str | None = None,
) -> str:
    """A percentage discount (`percent_off`) or a fixed one (`amount_off_minor` + `currency`)."""
    if (percent_off is None) == (amount_off_minor is None):
        raise ValueError(f"discount {code!r} needs exactly one of percent_off or amount_off_minor")
    kind = "percentage" if percent_off is not None else "fixed"
    cur = await conn.execute(
        """
        INSERT INTO core.discounts
            (id, code, kind, percent_off, amount_off_minor, currency, starts_at, ends_at)
        VALUES (coalesce(%s, gen_random_uuid()::text), %s, %s, %s, %s, %s, %s, %s)
        RETURNING id
        """,
        (discount_id, code, kind, percent_off, amount_off_minor, currency, starts_at, ends_at),
    )
    row = await cur.fetchone()
    assert row is not None
    return row[0]
