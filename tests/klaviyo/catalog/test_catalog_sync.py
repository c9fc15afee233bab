"""Catalog items end to end: store writes → state rows → bulk jobs → the sandbox."""

from __future__ import annotations

import psycopg

from app.klaviyo.catalog.ids import catalog_category_id, catalog_item_id
from app.store.catalog import VariantInput, create_category, create_product
from tests.fixtures.sandbox import SandboxControl


def items_by_id(sandbox: SandboxControl) -> dict[str, dict]:
    """Attributes of every catalog item the sandbox holds, by Klaviyo id."""
    return {i["id"]: i["attributes"] for i in sandbox.catalog()["items"]}


def category_items(sandbox: SandboxControl) -> dict[str, list[str]]:
    """Item ids linked to each category the sandbox holds."""
    return {
        c["id"]: sorted(r["id"] for r in c["relationships"]["items"]["data"])
        for c in sandbox.catalog()["categories"]
    }


async def state(conn: psycopg.AsyncConnection, variant_id: str) -> dict:
    cur = await conn.execute(
        "SELECT status, klaviyo_catalog_item_id, last_error, attempts, pushed_category_ids "
        "FROM klaviyo.catalog_state WHERE variant_id = %s",
        (variant_id,),
    )
    row = await cur.fetchone()
    return dict(
        zip(("status", "klaviyo_id", "last_error", "attempts", "categories"), row, strict=True)
    )


async def test_create_then_update_price_stock_title_and_category_move(
    conn, sandbox: SandboxControl, settle_all
) -> None:
    desks = await create_category(conn, "Desks", slug="desks")
    chairs = await create_category(conn, "Chairs", slug="chairs")
    product, (oak, pine) = await create_product(
        conn,
        "Desk",
        description="A sturdy desk",
        url="https://shop.example.com/desk",
        brand="Acme",
        image_url="https://img.example.com/desk.jpg",
        category_ids=[desks],
        variants=[
            VariantInput(
                price_minor=19999,
                currency="USD",
                title="Oak",
                sku="D-OAK",
                inventory_quantity=4,
                image_url="https://img.example.com/oak.jpg",
            ),
            VariantInput(price_minor=1500, currency="JPY", title="Default Title", sku="D-PINE"),
        ],
    )
    await settle_all()

    items = items_by_id(sandbox)
    oak_item = items[catalog_item_id(oak)]
    assert oak_item["title"] == "Desk - Oak"
    assert oak_item["description"] == "A sturdy desk"
    assert oak_item["price"] == 199.99
    assert oak_item["url"] == "https://shop.example.com/desk"
    assert oak_item["images"] == [
        "https://img.example.com/oak.jpg",
        "https://img.example.com/desk.jpg",
    ]
    assert oak_item["custom_metadata"] == {
        "sku": "D-OAK",
        "brand": "Acme",
        "inventory_quantity": 4,
        "product_id": product,
        "currency": "USD",
    }
    assert items[catalog_item_id(pine)]["title"] == "Desk"
    assert items[catalog_item_id(pine)]["price"] == 1500
    assert (await state(conn, oak))["status"] == "synced"
    assert (await state(conn, oak))["categories"] == [desks]
    assert category_items(sandbox)[catalog_category_id(desks)] == sorted(
        [catalog_item_id(oak), catalog_item_id(pine)]
    )

    await conn.execute(
        "UPDATE core.variants SET price_minor = 17999, inventory_quantity = 0 WHERE id = %s",
        (oak,),
    )
    await conn.execute("UPDATE core.products SET title = 'Writing desk' WHERE id = %s", (product,))
    async with conn.transaction():
        await conn.execute("DELETE FROM core.product_categories WHERE product_id = %s", (product,))
        await conn.execute("INSERT INTO core.product_categories VALUES (%s, %s)", (product, chairs))
    await settle_all()

    items = items_by_id(sandbox)
    assert len(items) == 2
    oak_item = items[catalog_item_id(oak)]
    assert (oak_item["price"], oak_item["title"]) == (179.99, "Writing desk - Oak")
    assert oak_item["custom_metadata"]["inventory_quantity"] == 0
    links = category_items(sandbox)
    assert links[catalog_category_id(desks)] == []
    assert links[catalog_category_id(chairs)] == sorted(
        [catalog_item_id(oak), catalog_item_id(pine)]
    )


async def test_unpublish_and_soft_delete_remove_the_item(conn, sandbox, settle_all) -> None:
    product, (a, b, c) = await create_product(
        conn,
        "Lamp",
        url="https://shop.example.com/lamp",
        variants=[VariantInput(price_minor=100, currency="USD", title=t) for t in "ABC"],
    )
    await settle_all()
    assert len(items_by_id(sandbox)) == 3

    await conn.execute("UPDATE core.variants SET published = false WHERE id = %s", (a,))
    await conn.execute("UPDATE core.variants SET deleted_at = now() WHERE id = %s", (b,))
    await conn.execute("DELETE FROM core.variants WHERE id = %s", (c,))
    await settle_all()
    assert items_by_id(sandbox) == {}
    for variant in (a, b, c):
        assert (await state(conn, variant))["status"] == "deleted"
        assert (await state(conn, variant))["klaviyo_id"] is None

    await conn.execute("UPDATE core.variants SET published = true WHERE id = %s", (a,))
    await settle_all()
    assert list(items_by_id(sandbox)) == [catalog_item_id(a)]


async def test_unpublished_product_never_reaches_klaviyo(conn, sandbox, settle_all) -> None:
    product, (v,) = await create_product(
        conn,
        "Hidden",
        url="https://x.example/h",
        variants=[VariantInput(price_minor=1, currency="USD")],
    )
    await conn.execute("UPDATE core.products SET published = false WHERE id = %s", (product,))
    await settle_all()
    assert items_by_id(sandbox) == {}
    assert (await state(conn, v))["status"] == "deleted"


async def test_variant_without_image_description_or_sku(conn, sandbox, settle_all) -> None:
    _, (v,) = await create_product(
        conn, "Plain", variants=[VariantInput(price_minor=250, currency="EUR")]
    )
    await settle_all()
    item = items_by_id(sandbox)[catalog_item_id(v)]
    assert item["description"] == "Plain"
    # No product url: the store's product page.
    assert item["url"].startswith("https://shop.example.com/products/")
    assert item["images"] is None and item["image_full_url"] is None
    assert "sku" not in item["custom_metadata"]
    assert (await state(conn, v))["status"] == "synced"


async def test_variant_with_no_price_syncs_without_one(conn, sandbox, settle_all) -> None:
    # The reference store requires a price; a platform's klaviyo_source.variants may not have
    # one. Let the column take a NULL for this test only.
    await conn.execute("ALTER TABLE core.variants ALTER COLUMN price_minor DROP NOT NULL")
    try:
        _, (v,) = await create_product(
            conn, "Priceless", variants=[VariantInput(price_minor=250, currency="USD")]
        )
        await conn.execute("UPDATE core.variants SET price_minor = NULL WHERE id = %s", (v,))
        await settle_all()
        item = items_by_id(sandbox)[catalog_item_id(v)]
        assert item["title"] == "Priceless"
        assert item.get("price") is None
        assert (await state(conn, v))["status"] == "synced"
    finally:
        await conn.execute("DELETE FROM core.variants WHERE price_minor IS NULL")
        await conn.execute("ALTER TABLE core.variants ALTER COLUMN price_minor SET NOT NULL")


async def test_variant_with_no_url_anywhere_is_skipped(conn, sandbox, catalog_ctx) -> None:
    from app.klaviyo.catalog.item_drain import drain_catalog
    from tests.klaviyo.catalog.conftest import run_until_settled

    _, (v,) = await create_product(
        conn, "Nowhere", variants=[VariantInput(price_minor=1, currency="USD")]
    )
    catalog_ctx.store_url = None
    await run_until_settled(catalog_ctx, drain_catalog)
    row = await state(conn, v)
    assert row["status"] == "skipped"
    assert "has no url" in row["last_error"]
    assert items_by_id(sandbox) == {}


async def test_unicode_and_very_long_titles(conn, sandbox, settle_all) -> None:
    long_title = "Ünïcødé 書道セット 🖋️ " + "x" * 2000
    _, (v,) = await create_product(
        conn,
        long_title,
        url="https://shop.example.com/u",
        variants=[VariantInput(price_minor=1, currency="KWD", title="青")],
    )
    await settle_all()
    item = items_by_id(sandbox)[catalog_item_id(v)]
    assert item["title"] == f"{long_title} - 青"
    assert item["price"] == 0.001


async def test_item_already_in_klaviyo_is_updated_not_duplicated(conn, sandbox, settle_all) -> None:
    _, (v,) = await create_product(
        conn,
        "Mug",
        url="https://shop.example.com/mug",
        variants=[VariantInput(price_minor=900, currency="USD", variant_id="mug-1")],
    )
    # Klaviyo already holds an item with this external id (an earlier install, a lost answer).
    body = {
        "data": {
            "type": "catalog-item",
            "attributes": {
                "external_id": "mug-1",
                "title": "Old",
                "description": "Old",
                "url": "https://old",
            },
        }
    }
    assert sandbox.api.post("/api/catalog-items", json=body).status_code == 201
    await settle_all()
    items = items_by_id(sandbox)
    assert list(items) == [catalog_item_id("mug-1")]
    assert items[catalog_item_id("mug-1")]["title"] == "Mug"
    row = await state(conn, v)
    assert (row["status"], row["klaviyo_id"]) == ("synced", catalog_item_id("mug-1"))

    # Deleted in Klaviyo behind our back: the update answers not found, the row creates again.
    sandbox.api.delete(f"/api/catalog-items/{catalog_item_id('mug-1')}")
    await conn.execute("UPDATE core.variants SET price_minor = 950 WHERE id = %s", (v,))
    await settle_all()
    assert items_by_id(sandbox)[catalog_item_id("mug-1")]["price"] == 9.5


async def test_one_bad_item_in_a_job_fails_alone(conn, sandbox, settle_all, catalog_ctx) -> None:
    from app.klaviyo.catalog.bulk_poller import poll_jobs
    from app.klaviyo.catalog.item_drain import drain_catalog

    lost = await create_category(conn, "Lost", slug="lost")
    _, (bad,) = await create_product(
        conn,
        "Bad",
        url="https://x.example/b",
        category_ids=[lost],
        variants=[VariantInput(price_minor=1, currency="USD")],
    )
    _, good = await create_product(
        conn,
        "Good",
        url="https://x.example/g",
        variants=[VariantInput(price_minor=1, currency="USD", title=str(i)) for i in range(20)],
    )
    await settle_all()
    # The category vanishes from Klaviyo; the next push of its item names a missing category.
    sandbox.api.delete(f"/api/catalog-categories/{catalog_category_id(lost)}")
    await conn.execute("SELECT klaviyo.bootstrap_catalog()")
    await drain_catalog(catalog_ctx)
    sandbox.wait_jobs_done()
    await poll_jobs(catalog_ctx)

    bad_row = await state(conn, bad)
    assert bad_row["status"] == "failed"
    assert "does not exist" in bad_row["last_error"]
    assert all([(await state(conn, g))["status"] == "synced" for g in good])

    # The category is queued again; its arrival touches the item, which then syncs.
    await settle_all()
    assert (await state(conn, bad))["status"] == "synced"
    assert category_items(sandbox)[catalog_category_id(lost)] == [catalog_item_id(bad)]


async def test_job_that_never_completes_is_timed_out_and_retried(
    conn, sandbox, catalog_ctx, settle_all
) -> None:
    import asyncio

    from app.klaviyo.catalog.bulk_poller import poll_jobs
    from app.klaviyo.catalog.item_drain import drain_catalog

    _, (v,) = await create_product(
        conn,
        "Stuck",
        url="https://x.example/s",
        variants=[VariantInput(price_minor=1, currency="USD")],
    )
    sandbox.set_fault("stall_jobs", "/api/catalog-item-bulk-create-jobs", times=1)
    catalog_ctx.job_deadline_s = 0.3
    await drain_catalog(catalog_ctx)
    assert (await state(conn, v))["status"] == "submitted"
    await asyncio.sleep(0.4)
    await poll_jobs(catalog_ctx)
    row = await state(conn, v)
    assert row["status"] == "pending" and "deadline" in row["last_error"]
    cur = await conn.execute("SELECT status FROM klaviyo.catalog_bulk_jobs")
    assert [r[0] for r in await cur.fetchall()] == ["timed_out"]

    await settle_all()
    assert (await state(conn, v))["status"] == "synced"
    assert list(items_by_id(sandbox)) == [catalog_item_id(v)]


async def test_a_cancelled_job_is_retried_not_settled(
    conn, sandbox, catalog_ctx, settle_all
) -> None:
    from app.klaviyo.catalog.bulk_poller import poll_jobs
    from app.klaviyo.catalog.item_drain import drain_catalog

    _, (v,) = await create_product(
        conn,
        "Cancelled",
        url="https://x.example/c",
        variants=[VariantInput(price_minor=1, currency="USD")],
    )
    sandbox.set_fault("cancel_jobs", "/api/catalog-item-bulk-create-jobs", times=1)
    await drain_catalog(catalog_ctx)
    sandbox.wait_for(lambda: sandbox.jobs(status="cancelled"))
    await poll_jobs(catalog_ctx)
    # Klaviyo processed none of the job: the row goes again, it is not taken as synced.
    row = await state(conn, v)
    assert row["status"] == "pending" and "ended cancelled" in row["last_error"]
    assert row["klaviyo_id"] is None and items_by_id(sandbox) == {}
    job = await (
        await conn.execute("SELECT status, last_error FROM klaviyo.catalog_bulk_jobs")
    ).fetchone()
    assert job[0] == "cancelled" and "ended cancelled" in job[1]  # told apart from a timeout

    await settle_all()
    assert (await state(conn, v))["status"] == "synced"
    assert list(items_by_id(sandbox)) == [catalog_item_id(v)]


async def test_touch_while_submitted_pushes_again(conn, sandbox, catalog_ctx, settle_all) -> None:
    from app.klaviyo.catalog.item_drain import drain_catalog

    _, (v,) = await create_product(
        conn,
        "Race",
        url="https://x.example/r",
        variants=[VariantInput(price_minor=100, currency="USD")],
    )
    await drain_catalog(catalog_ctx)
    await conn.execute("UPDATE core.variants SET price_minor = 200 WHERE id = %s", (v,))
    await settle_all()
    assert items_by_id(sandbox)[catalog_item_id(v)]["price"] == 2.0


async def test_bootstrap_twice_creates_no_duplicates(conn, sandbox, settle_all) -> None:
    cat = await create_category(conn, "All", slug="all")
    await create_product(
        conn,
        "Many",
        url="https://x.example/m",
        category_ids=[cat],
        variants=[VariantInput(price_minor=1, currency="USD", title=str(i)) for i in range(150)],
    )
    await settle_all()
    for _ in range(2):
        await conn.execute("SELECT klaviyo.bootstrap_catalog(), klaviyo.bootstrap_categories()")
        await settle_all()
    assert len(items_by_id(sandbox)) == 150
    assert len(sandbox.catalog()["categories"]) == 1
    cur = await conn.execute("SELECT status, count(*) FROM klaviyo.catalog_state GROUP BY 1")
    assert await cur.fetchall() == [("synced", 150)]
