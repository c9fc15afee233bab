"""A small reference store for tests: nested categories, products in three currencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from app.store.catalog import VariantInput, create_category, create_product
from app.store.customers import create_customer


@dataclass(frozen=True)
class SampleStore:
    customer_id: str
    shelf_product: str
    shelf_variant: str  # USD 19.99
    lamp_product: str
    lamp_variant: str  # USD 5.00
    tea_variant: str  # JPY 1200
    dates_variant: str  # KWD 1.250


async def seed_store(conn: psycopg.AsyncConnection) -> SampleStore:
    """Writes the sample store in its own committed transaction."""
    async with conn.transaction():
        furniture = await create_category(conn, "Furniture", slug="furniture")
        bookcases = await create_category(
            conn, "Bücherregale", slug="bookcases", parent_id=furniture
        )
        lighting = await create_category(conn, "Lighting", slug="lighting")
        shelf, (shelf_variant,) = await create_product(
            conn,
            "Bücherregal ‘Nordlicht’",
            brand="Ørsted Møbler",
            url="https://shop.example/p/nordlicht",
            image_url="https://shop.example/i/nordlicht.jpg",
            category_ids=[bookcases],
            variants=[VariantInput(price_minor=1999, currency="USD", sku="SHELF-1")],
        )
        lamp, (lamp_variant,) = await create_product(
            conn,
            "Desk lamp",
            category_ids=[lighting],
            variants=[VariantInput(price_minor=500, currency="USD", sku="LAMP-1")],
        )
        _, (tea_variant,) = await create_product(
            conn, "緑茶", variants=[VariantInput(price_minor=1200, currency="JPY", sku="TEA-1")]
        )
        _, (dates_variant,) = await create_product(
            conn, "تمر", variants=[VariantInput(price_minor=1250, currency="KWD", sku="DATES-1")]
        )
        customer = await create_customer(
            conn,
            email="zoe@example.com",
            first_name="Zoë",
            last_name="Ó Súilleabháin",
            phone="020 7946 0958",
            country_code="GB",
        )
    return SampleStore(
        customer, shelf, shelf_variant, lamp, lamp_variant, tea_variant, dates_variant
    )


async def outbox_rows(conn: psycopg.AsyncConnection) -> dict[str, dict[str, Any]]:
    """Every event outbox row by idempotency key."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM klaviyo.event_outbox")
        return {row["idempotency_key"]: row for row in await cur.fetchall()}


async def profile_rows(conn: psycopg.AsyncConnection) -> dict[str, dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM klaviyo.profile_state")
        return {row["customer_id"]: row for row in await cur.fetchall()}
