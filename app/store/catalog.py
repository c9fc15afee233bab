"""Categories, products and variants of the reference store."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import psycopg


class VariantInput(msgspec.Struct, frozen=True, kw_only=True):
    price_minor: int
    currency: str
    sku: str | None = None
    title: str | None = None
    inventory_quantity: int = 0
    image_url: str | None = None
    variant_id: str | None = None


async def create_category(
    conn: psycopg.AsyncConnection,
    name: str,
    *,
    slug: str,
    parent_id: str | None = None,
    category_id: str | None = None,
) -> str:
    cur = await conn.execute(
        """
        INSERT INTO core.categories (id, parent_id, name, slug)
        VALUES (coalesce(%s, gen_random_uuid()::text), %s, %s, %s)
        RETURNING id
        """,
        (category_id, parent_id, name, slug),
    )
    row = await cur.fetchone()
    assert row is not None
    return row[0]


async def create_product(
    conn: psycopg.AsyncConnection,
    title: str,
    *,
    variants: Sequence[VariantInput],
    category_ids: Sequence[str] = (),
    product_id: str | None = None,
    handle: str | None = None,
    url: str | None = None,
    brand: str | None = None,
    description: str | None = None,
    image_url: str | None = None,
) -> tuple[str, list[str]]:
    """Inserts a product with its categories and variants; answers (product id, variant ids)."""
    async with conn.transaction():
        cur = await conn.execute(
            """
            INSERT INTO core.products (id, title, handle, url, brand, description, image_url)
            VALUES (coalesce(%s, gen_random_uuid()::text), %s, %s, %s, %s, %s, %s)
            RETURNING id
            """,
            (product_id, title, handle, url, brand, description, image_url),
        )
        row = await cur.fetchone()
        assert row is not None
        new_id = row[0]

        if category_ids:
            await conn.execute(
                "INSERT INTO core.product_categories (product_id, category_id) "
                "SELECT %s, unnest(%s::text[])",
                (new_id, list(category_ids)),
            )
        variant_ids = [await create_variant(conn, new_id, variant) for variant in variants]
    return new_id, variant_ids


async def create_variant(
    conn: psycopg.AsyncConnection, product_id: str, variant: VariantInput
) -> str:
    cur = await conn.execute(
        """
        INSERT INTO core.variants
            (id, product_id, sku, title, price_minor, currency, inventory_quantity, image_url)
        VALUES (coalesce(%s, gen_random_uuid()::text), %s, %s, %s, %s, %s, %s, %s)
        RETURNING id
        """,
        (
            variant.variant_id,
            product_id,
            variant.sku,
            variant.title,
            variant.price_minor,
            variant.currency,
            variant.inventory_quantity,
            variant.image_url,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return row[0]
