"""Catalog, category and coupon producers: listeners on the store, bootstraps, module switch."""

from __future__ import annotations

import psycopg

from app.klaviyo.outbox.module_switch import apply_module_config
from app.store.catalog import VariantInput, create_category, create_product
from app.store.discounts import create_discount


async def _states(conn: psycopg.AsyncConnection, table: str, key: str) -> dict[str, tuple]:
    cur = await conn.execute(f"SELECT {key}, status, change_seq FROM klaviyo.{table}")
    return {row[0]: row[1:] for row in await cur.fetchall()}


async def test_variant_insert_and_product_change_mark_every_variant(conn) -> None:
    category = await create_category(conn, "Office", slug="office")
    product, variants = await create_product(
        conn,
        "Desk",
        variants=[VariantInput(price_minor=100, currency="USD", title=t) for t in ("S", "M")],
        category_ids=[category],
    )
    states = await _states(conn, "catalog_state", "variant_id")
    assert set(states) == set(variants)
    before = {v: s[1] for v, s in states.items()}

    await conn.execute("UPDATE core.products SET title = 'Big desk' WHERE id = %s", (product,))
    after = await _states(conn, "catalog_state", "variant_id")
    assert all(after[v][1] > before[v] for v in variants)
    assert all(after[v][0] == "pending" for v in variants)


async def test_irrelevant_update_touches_nothing(conn) -> None:
    product, variants = await create_product(
        conn, "Lamp", variants=[VariantInput(price_minor=100, currency="USD")]
    )
    await conn.execute("UPDATE klaviyo.catalog_state SET status = 'synced'")
    await conn.execute("UPDATE core.variants SET updated_at = now() WHERE id = %s", (variants[0],))
    assert (await _states(conn, "catalog_state", "variant_id"))[variants[0]][0] == "synced"
    await conn.execute("UPDATE core.variants SET price_minor = 5 WHERE id = %s", (variants[0],))
    assert (await _states(conn, "catalog_state", "variant_id"))[variants[0]][0] == "pending"


async def test_category_link_change_touches_the_products_variants(conn) -> None:
    category = await create_category(conn, "Paper", slug="paper")
    product, variants = await create_product(
        conn, "Ream", variants=[VariantInput(price_minor=100, currency="USD")]
    )
    await conn.execute("UPDATE klaviyo.catalog_state SET status = 'synced'")
    await conn.execute("INSERT INTO core.product_categories VALUES (%s, %s)", (product, category))
    assert (await _states(conn, "catalog_state", "variant_id"))[variants[0]][0] == "pending"


async def test_parent_rename_touches_descendant_categories(conn) -> None:
    root = await create_category(conn, "Office Supplies", slug="office")
    child = await create_category(conn, "Paper", slug="paper", parent_id=root)
    grandchild = await create_category(conn, "A4", slug="a4", parent_id=child)
    other = await create_category(conn, "Garden", slug="garden")
    await conn.execute("UPDATE klaviyo.category_state SET status = 'synced'")
    await conn.execute("UPDATE core.categories SET name = 'Office' WHERE id = %s", (root,))
    states = await _states(conn, "category_state", "category_id")
    assert {c for c, s in states.items() if s[0] == "pending"} == {root, child, grandchild}
    assert states[other][0] == "synced"


async def test_submitted_row_keeps_its_status_but_counts_the_touch(conn) -> None:
    _, variants = await create_product(
        conn, "Pen", variants=[VariantInput(price_minor=100, currency="USD")]
    )
    await conn.execute("UPDATE klaviyo.catalog_state SET status = 'submitted'")
    await conn.execute("UPDATE core.variants SET price_minor = 7 WHERE id = %s", (variants[0],))
    status, seq = (await _states(conn, "catalog_state", "variant_id"))[variants[0]]
    assert (status, seq) == ("submitted", 2)


async def test_rollback_leaves_no_state_row(conn) -> None:
    try:
        async with conn.transaction():
            await create_product(
                conn, "Ghost", variants=[VariantInput(price_minor=1, currency="USD")]
            )
            await create_discount(conn, "GHOST10", percent_off=10)
            raise RuntimeError("store write fails")
    except RuntimeError:
        pass
    assert await _states(conn, "catalog_state", "variant_id") == {}
    assert await _states(conn, "coupon_state", "discount_id") == {}


async def test_module_off_records_nothing(conn) -> None:
    await apply_module_config(conn, enabled=False, backfill_age_s=86400)
    try:
        await create_product(conn, "Off", variants=[VariantInput(price_minor=1, currency="USD")])
        await create_category(conn, "Off", slug="off")
        await create_discount(conn, "OFF10", percent_off=10)
        cur = await conn.execute("SELECT klaviyo.bootstrap_catalog()")
        assert (await cur.fetchone())[0] == 0
    finally:
        await apply_module_config(conn, enabled=True, backfill_age_s=86400)
    assert await _states(conn, "catalog_state", "variant_id") == {}
    assert await _states(conn, "category_state", "category_id") == {}
    assert await _states(conn, "coupon_state", "discount_id") == {}


async def test_bootstrap_twice_creates_no_duplicates(conn) -> None:
    await create_category(conn, "A", slug="a")
    await create_product(
        conn, "P", variants=[VariantInput(price_minor=1, currency="USD") for _ in range(3)]
    )
    await conn.execute("DELETE FROM klaviyo.catalog_state")
    for _ in range(2):
        cur = await conn.execute(
            "SELECT klaviyo.bootstrap_catalog(), klaviyo.bootstrap_categories()"
        )
        assert await cur.fetchone() == (3, 1)
    cur = await conn.execute("SELECT count(*), max(change_seq) FROM klaviyo.catalog_state")
    assert await cur.fetchone() == (3, 2)


async def test_discount_code_change_and_delete_touch_the_coupon(conn) -> None:
    discount = await create_discount(conn, "SAVE10", percent_off=10)
    await conn.execute("UPDATE klaviyo.coupon_state SET status = 'synced'")
    await conn.execute("UPDATE core.discounts SET code = 'SAVE11' WHERE id = %s", (discount,))
    assert (await _states(conn, "coupon_state", "discount_id"))[discount] == ("pending", 2)
    await conn.execute("DELETE FROM core.discounts WHERE id = %s", (discount,))
    assert (await _states(conn, "coupon_state", "discount_id"))[discount] == ("pending", 3)
