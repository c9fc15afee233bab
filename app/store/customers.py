"""Customers of the reference store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

# Columns a caller may set; anything else is a programming error named in the message.
CUSTOMER_FIELDS = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "locale",
        "address1",
        "address2",
        "city",
        "region",
        "postal_code",
        "country_code",
        "accepts_email_marketing",
        "consent_updated_at",
        "properties",
        "deleted_at",
    }
)


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - CUSTOMER_FIELDS
    if unknown:
        raise ValueError(f"unknown customer field(s): {sorted(unknown)}")
    if "properties" in fields and fields["properties"] is not None:
        fields = {**fields, "properties": Jsonb(fields["properties"])}
    return fields


async def create_customer(
    conn: psycopg.AsyncConnection, *, customer_id: str | None = None, **fields: Any
) -> str:
    """Inserts a customer; answers its id."""
    fields = _checked(fields)
    if customer_id is not None:
        fields = {"id": customer_id, **fields}
    if not fields:
        cur = await conn.execute("INSERT INTO core.customers DEFAULT VALUES RETURNING id")
    else:
        query = sql.SQL("INSERT INTO core.customers ({}) VALUES ({}) RETURNING id").format(
            sql.SQL(", ").join(map(sql.Identifier, fields)),
            sql.SQL(", ").join(sql.Placeholder(name) for name in fields),
        )
        cur = await conn.execute(query, fields)
    row = await cur.fetchone()
    assert row is not None
    return row[0]


async def update_customer(conn: psycopg.AsyncConnection, customer_id: str, **fields: Any) -> bool:
    """Changes the given fields; answers whether the customer exists."""
    fields = _checked(fields)
    if not fields:
        raise ValueError("update_customer needs at least one field")
    query = sql.SQL("UPDATE core.customers SET {}, updated_at = now() WHERE id = {}").format(
        sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name))
            for name in fields
        ),
        sql.Placeholder("customer_id"),
    )
    cur = await conn.execute(query, {**fields, "customer_id": customer_id})
    return cur.rowcount == 1


async def set_marketing_consent(
    conn: psycopg.AsyncConnection, customer_id: str, accepts: bool, at: datetime | None = None
) -> bool:
    """Records the shopper's e-mail marketing choice made in the store."""
    cur = await conn.execute(
        """
        UPDATE core.customers
        SET accepts_email_marketing = %s, consent_updated_at = coalesce(%s, now()),
            updated_at = now()
        WHERE id = %s
        """,
        (accepts, at, customer_id),
    )
    return cur.rowcount == 1


async def delete_customer(conn: psycopg.AsyncConnection, customer_id: str) -> bool:
    """Soft-deletes a customer, as stores do (orders keep pointing at it)."""
    cur = await conn.execute(
        "UPDATE core.customers SET deleted_at = now(), updated_at = now() "
        "WHERE id = %s AND deleted_at IS NULL",
        (customer_id,),
    )
    return cur.rowcount == 1
