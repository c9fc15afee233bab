"""Orders of the reference store: placing them and moving them through their statuses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
import psycopg


class OrderLineInput(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    quantity: int
    unit_price_minor: int
    variant_id: str | None = None
    product_id: str | None = None
    sku: str | None = None
    # Defaults to quantity × unit price; a loader passes the line's real total.
    total_minor: int | None = None

    @property
    def line_total(self) -> int:
        return (
            self.total_minor
            if self.total_minor is not None
            else (self.quantity * self.unit_price_minor)
        )


async def place_order(
    conn: psycopg.AsyncConnection,
    *,
    currency: str,
    lines: Sequence[OrderLineInput],
    customer_id: str | None = None,
    email: str | None = None,
    number: str | None = None,
    discount_code: str | None = None,
    discount_minor: int = 0,
    shipping_minor: int = 0,
    tax_minor: int = 0,
    placed_at: datetime | None = None,
    order_id: str | None = None,
) -> str:
    """Inserts an order and its lines (numbered from 1); the total is subtotal − discount +
    shipping + tax. Answers the order id; the number defaults to it."""
    if not lines:
        raise ValueError("an order needs at least one line")
    # One transaction (a savepoint inside the caller's): the listener sees the lines.
    async with conn.transaction():
        subtotal = sum(line.line_total for line in lines)
        total = subtotal - discount_minor + shipping_minor + tax_minor
        cur = await conn.execute(
            """
            INSERT INTO core.orders
                (id, customer_id, email, number, currency, subtotal_minor, discount_minor,
                 shipping_minor, tax_minor, total_minor, discount_code, placed_at)
            SELECT new_id, %s, %s, coalesce(%s, new_id), %s, %s, %s, %s, %s, %s, %s,
                   coalesce(%s, now())
            FROM (SELECT coalesce(%s, gen_random_uuid()::text) AS new_id) ids
            RETURNING id
            """,
            (
                customer_id,
                email,
                number,
                currency,
                subtotal,
                discount_minor,
                shipping_minor,
                tax_minor,
                total,
                discount_code,
                placed_at,
                order_id,
            ),
        )
        row = await cur.fetchone()
        assert row is not None
        new_id = row[0]

        async with conn.cursor() as lines_cur:
            await lines_cur.executemany(
                """
                INSERT INTO core.order_lines
                    (order_id, line_no, variant_id, product_id, sku, name, quantity,
                     unit_price_minor, total_minor)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                """,
                [
                    (
                        new_id,
                        line_no,
                        line.variant_id,
                        line.product_id,
                        line.sku,
                        line.name,
                        line.quantity,
                        line.unit_price_minor,
                        line.line_total,
                    )
                    for line_no, line in enumerate(lines, start=1)
                ],
            )
    return new_id


_FULFIL = """
    UPDATE core.orders SET status = 'fulfilled', fulfilled_at = coalesce(%(at)s, now()),
        updated_at = now()
    WHERE id = %(order_id)s AND fulfilled_at IS NULL
"""
_CANCEL = """
    UPDATE core.orders SET status = 'cancelled', cancelled_at = coalesce(%(at)s, now()),
        cancel_reason = %(reason)s, updated_at = now()
    WHERE id = %(order_id)s AND cancelled_at IS NULL
"""
_REFUND = """
    UPDATE core.orders SET status = 'refunded', refunded_at = coalesce(%(at)s, now()),
        refund_reason = %(reason)s, updated_at = now()
    WHERE id = %(order_id)s AND refunded_at IS NULL
"""


async def fulfil_order(
    conn: psycopg.AsyncConnection, order_id: str, *, at: datetime | None = None
) -> bool:
    """Marks the order fulfilled once; answers False if it already was or is unknown."""
    cur = await conn.execute(_FULFIL, {"at": at, "order_id": order_id})
    return cur.rowcount == 1


async def cancel_order(
    conn: psycopg.AsyncConnection, order_id: str, *, reason: str | None, at: datetime | None = None
) -> bool:
    cur = await conn.execute(_CANCEL, {"at": at, "reason": reason, "order_id": order_id})
    return cur.rowcount == 1


async def refund_order(
    conn: psycopg.AsyncConnection, order_id: str, *, reason: str | None, at: datetime | None = None
) -> bool:
    cur = await conn.execute(_REFUND, {"at": at, "reason": reason, "order_id": order_id})
    return cur.rowcount == 1
