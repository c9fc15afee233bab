"""Carts of the reference store: every change bumps the cart's version."""

from __future__ import annotations

from datetime import datetime

import psycopg


async def create_cart(
    conn: psycopg.AsyncConnection,
    *,
    currency: str,
    customer_id: str | None = None,
    email: str | None = None,
    checkout_url: str | None = None,
    cart_id: str | None = None,
) -> str:
    cur = await conn.execute(
        """
        INSERT INTO core.carts (id, customer_id, email, currency, checkout_url)
        VALUES (coalesce(%s, gen_random_uuid()::text), %s, %s, %s, %s)
        RETURNING id
        """,
        (cart_id, customer_id, email, currency, checkout_url),
    )
    row = await cur.fetchone()
    assert row is not None
    return row[0]


async def add_cart_line(
    conn: psycopg.AsyncConnection,
    cart_id: str,
    *,
    name: str,
    quantity: int,
    unit_price_minor: int,
    variant_id: str | None = None,
    product_id: str | None = None,
    sku: str | None = None,
) -> int:
    """Adds a line (numbered after the last one); answers its number. A changed cart leaves
    checkout, so the next checkout is a new Started Checkout."""
    async with conn.transaction():
        await _bump_version(conn, cart_id)
        cur = await conn.execute(
            """
            INSERT INTO core.cart_lines
                (cart_id, line_no, variant_id, product_id, sku, name, quantity, unit_price_minor)
            SELECT %s, coalesce(max(line_no), 0) + 1, %s, %s, %s, %s, %s, %s
            FROM core.cart_lines WHERE cart_id = %s
            RETURNING line_no
            """,
            (cart_id, variant_id, product_id, sku, name, quantity, unit_price_minor, cart_id),
        )
        row = await cur.fetchone()
    assert row is not None
    return row[0]


async def set_line_quantity(
    conn: psycopg.AsyncConnection, cart_id: str, line_no: int, quantity: int
) -> bool:
    """Changes a line's quantity; a raise records Added to Cart at the new cart version."""
    async with conn.transaction():
        await _bump_version(conn, cart_id)
        cur = await conn.execute(
            "UPDATE core.cart_lines SET quantity = %s, updated_at = now() "
            "WHERE cart_id = %s AND line_no = %s",
            (quantity, cart_id, line_no),
        )
    return cur.rowcount == 1


async def start_checkout(
    conn: psycopg.AsyncConnection, cart_id: str, *, at: datetime | None = None
) -> bool:
    cur = await conn.execute(
        "UPDATE core.carts SET checkout_started_at = coalesce(%s, now()), updated_at = now() "
        "WHERE id = %s",
        (at, cart_id),
    )
    return cur.rowcount == 1


async def _bump_version(conn: psycopg.AsyncConnection, cart_id: str) -> int:
    cur = await conn.execute(
        """
        UPDATE core.carts
        SET version = version + 1, checkout_started_at = NULL, updated_at = now()
        WHERE id = %s
        RETURNING version
        """,
        (cart_id,),
    )
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"no cart {cart_id!r}")
    return row[0]
