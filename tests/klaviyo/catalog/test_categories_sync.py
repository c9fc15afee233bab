"""Categories end to end: nesting as breadcrumbs, rename, delete."""

from __future__ import annotations

from app.klaviyo.catalog.ids import catalog_category_id
from app.store.catalog import create_category


def names(sandbox) -> dict[str, str]:
    return {c["id"]: c["attributes"]["name"] for c in sandbox.catalog()["categories"]}


async def _status(conn, category_id: str) -> str:
    cur = await conn.execute(
        "SELECT status FROM klaviyo.category_state WHERE category_id = %s", (category_id,)
    )
    return (await cur.fetchone())[0]


async def test_nested_names_rename_and_delete(conn, sandbox, settle_all) -> None:
    office = await create_category(conn, "Office Supplies", slug="office")
    paper = await create_category(conn, "Paper", slug="paper", parent_id=office)
    a4 = await create_category(conn, "A4", slug="a4", parent_id=paper)
    await settle_all()
    assert names(sandbox) == {
        catalog_category_id(office): "Office Supplies",
        catalog_category_id(paper): "Office Supplies > Paper",
        catalog_category_id(a4): "Office Supplies > Paper > A4",
    }

    await conn.execute("UPDATE core.categories SET name = 'Office' WHERE id = %s", (office,))
    await settle_all()
    assert names(sandbox)[catalog_category_id(a4)] == "Office > Paper > A4"

    await conn.execute("UPDATE core.categories SET deleted_at = now() WHERE id = %s", (paper,))
    await settle_all()
    assert list(names(sandbox)) == [catalog_category_id(office)]
    assert await _status(conn, paper) == "deleted"
    assert await _status(conn, a4) == "deleted"

    await conn.execute("DELETE FROM core.categories WHERE id = %s", (a4,))
    await conn.execute("DELETE FROM core.categories WHERE id = %s", (paper,))
    await conn.execute("DELETE FROM core.categories WHERE id = %s", (office,))
    await settle_all()
    assert names(sandbox) == {}
    assert await _status(conn, office) == "deleted"


async def test_a_category_in_a_job_in_flight_is_not_claimed_again(
    conn, sandbox, catalog_ctx, settle_all
) -> None:
    from app.klaviyo.catalog.category_drain import drain_categories

    chairs = await create_category(conn, "Chairs", slug="chairs")
    sandbox.set_fault("stall_jobs", "/api/catalog-category-bulk-create-jobs", times=1)
    assert await drain_categories(catalog_ctx) == 1
    # The job outlives the hold it put on the row: the row is still the job's, not the drain's.
    await conn.execute("UPDATE klaviyo.category_state SET lease_expires_at = now() - interval '1s'")
    assert await drain_categories(catalog_ctx) == 0
    assert len(sandbox.jobs()) == 1

    # The poller gives up on the stalled job; the category then goes in a job of its own.
    await conn.execute("UPDATE klaviyo.catalog_bulk_jobs SET deadline = now()")
    await settle_all()
    assert await _status(conn, chairs) == "synced"
    assert list(names(sandbox)) == [catalog_category_id(chairs)]
    assert len(sandbox.jobs()) == 2
