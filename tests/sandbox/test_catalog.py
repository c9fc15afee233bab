"""Catalog: items, variants, categories, relationships and the bulk jobs with per-item errors."""

from __future__ import annotations

import pytest

from tests.fixtures.sandbox import SandboxControl
from tests.sandbox import bodies

ITEM_ID = "$custom:::$default:::sku-1"


def _pointer(response) -> str:
    return response.json()["errors"][0]["source"]["pointer"]


def test_item_create_read_update_delete(sandbox: SandboxControl) -> None:
    created = sandbox.api.post("/api/catalog-items", json=bodies.item("sku-1"))
    assert created.status_code == 201
    assert created.json()["data"]["id"] == ITEM_ID
    assert sandbox.api.post("/api/catalog-items", json=bodies.item("sku-1")).status_code == 409

    patch = {
        "data": {
            "type": "catalog-item",
            "id": ITEM_ID,
            "attributes": {"title": "Renamed", "price": None},
        }
    }
    updated = sandbox.api.patch(f"/api/catalog-items/{ITEM_ID}", json=patch).json()["data"][
        "attributes"
    ]
    assert (updated["title"], updated["price"], updated["url"]) == (
        "Renamed",
        None,
        "https://shop.example.com/items/sku-1",
    )
    assert (
        sandbox.api.get(f"/api/catalog-items/{ITEM_ID}").json()["data"]["attributes"]["title"]
        == "Renamed"
    )
    assert [i["id"] for i in sandbox.api.get("/api/catalog-items").json()["data"]] == [ITEM_ID]

    assert sandbox.api.delete(f"/api/catalog-items/{ITEM_ID}").status_code == 204
    assert sandbox.api.get(f"/api/catalog-items/{ITEM_ID}").status_code == 404
    assert sandbox.stats()["catalog_items"] == 0


@pytest.mark.parametrize("field", ["external_id", "title", "description", "url"])
def test_item_required_fields(sandbox: SandboxControl, field: str) -> None:
    body = bodies.item("sku-r")
    del body["data"]["attributes"][field]
    response = sandbox.api.post("/api/catalog-items", json=body)
    assert response.status_code == 400
    assert _pointer(response) == f"/data/attributes/{field}"


@pytest.mark.parametrize(
    "field", ["sku", "inventory_quantity", "price", "title", "description", "url"]
)
def test_variant_required_fields(sandbox: SandboxControl, field: str) -> None:
    sandbox.api.post("/api/catalog-items", json=bodies.item("sku-1"))
    body = bodies.variant("v-1", ITEM_ID)
    del body["data"]["attributes"][field]
    response = sandbox.api.post("/api/catalog-variants", json=body)
    assert response.status_code == 400
    assert _pointer(response) == f"/data/attributes/{field}"


def test_variant_belongs_to_an_existing_item(sandbox: SandboxControl) -> None:
    missing = sandbox.api.post("/api/catalog-variants", json=bodies.variant("v-1", ITEM_ID))
    assert missing.status_code == 404
    assert _pointer(missing) == "/data/relationships/item/data/id"
    sandbox.api.post("/api/catalog-items", json=bodies.item("sku-1"))
    created = sandbox.api.post("/api/catalog-variants", json=bodies.variant("v-1", ITEM_ID))
    assert created.status_code == 201
    variant_id = created.json()["data"]["id"]
    item = sandbox.api.get(f"/api/catalog-items/{ITEM_ID}").json()["data"]
    assert item["relationships"]["variants"]["data"] == [
        {"type": "catalog-variant", "id": variant_id}
    ]
    patch = {
        "data": {
            "type": "catalog-variant",
            "id": variant_id,
            "attributes": {"inventory_quantity": 0},
        }
    }
    assert sandbox.api.patch(f"/api/catalog-variants/{variant_id}", json=patch).status_code == 200
    assert sandbox.catalog()["variants"][0]["attributes"]["inventory_quantity"] == 0
    # Deleting the item takes its variants with it.
    sandbox.api.delete(f"/api/catalog-items/{ITEM_ID}")
    assert sandbox.stats()["catalog_variants"] == 0


def test_categories_and_relationships(sandbox: SandboxControl) -> None:
    cat = sandbox.api.post("/api/catalog-categories", json=bodies.category("shoes")).json()["data"][
        "id"
    ]
    cat2 = sandbox.api.post("/api/catalog-categories", json=bodies.category("sale", "Sale")).json()[
        "data"
    ]["id"]
    assert cat == "$custom:::$default:::shoes"
    sandbox.api.post("/api/catalog-items", json=bodies.item("sku-1", categories=[cat]))
    path = f"/api/catalog-items/{ITEM_ID}/relationships/categories"
    assert [c["id"] for c in sandbox.api.get(path).json()["data"]] == [cat]

    assert (
        sandbox.api.post(
            path, json={"data": [{"type": "catalog-category", "id": cat2}]}
        ).status_code
        == 204
    )
    assert {c["id"] for c in sandbox.api.get(path).json()["data"]} == {cat, cat2}
    items_path = f"/api/catalog-categories/{cat2}/relationships/items"
    assert [i["id"] for i in sandbox.api.get(items_path).json()["data"]] == [ITEM_ID]

    assert (
        sandbox.api.request(
            "DELETE", path, json={"data": [{"type": "catalog-category", "id": cat}]}
        ).status_code
        == 204
    )
    assert [c["id"] for c in sandbox.api.get(path).json()["data"]] == [cat2]
    assert sandbox.api.patch(items_path, json={"data": []}).status_code == 204
    assert sandbox.api.get(path).json()["data"] == []
    bad = sandbox.api.post(path, json={"data": [{"type": "catalog-category", "id": "nope"}]})
    assert bad.status_code == 404
    rename = {"data": {"type": "catalog-category", "id": cat, "attributes": {"name": "Boots"}}}
    assert (
        sandbox.api.patch(f"/api/catalog-categories/{cat}", json=rename).json()["data"][
            "attributes"
        ]["name"]
        == "Boots"
    )
    assert sandbox.api.delete(f"/api/catalog-categories/{cat}").status_code == 204


def _wait_job(sandbox: SandboxControl, path: str, job_id: str) -> dict:
    return sandbox.wait_for(
        lambda: (
            (j := sandbox.api.get(f"{path}/{job_id}").json()["data"])["attributes"]["status"]
            == "complete"
            and j
        )
    )


def test_item_bulk_create_with_per_item_errors(sandbox: SandboxControl) -> None:
    sandbox.api.post("/api/catalog-items", json=bodies.item("exists"))
    rows = [bodies.item(f"b-{n}")["data"] for n in range(3)]
    rows.append(bodies.item("exists")["data"])
    rows.append(bodies.item("b-9", categories=["$custom:::$default:::ghost"])["data"])
    response = sandbox.api.post(
        "/api/catalog-item-bulk-create-jobs", json=bodies.catalog_job("item", "create", rows)
    )
    assert response.status_code == 202
    job = response.json()["data"]
    assert job["attributes"]["status"] == "queued"
    done = _wait_job(sandbox, "/api/catalog-item-bulk-create-jobs", job["id"])
    attrs = done["attributes"]
    assert (attrs["total_count"], attrs["completed_count"], attrs["failed_count"]) == (5, 3, 2)
    assert [e["source"]["pointer"] for e in attrs["errors"]] == [
        "/data/attributes/items/data/3/attributes/external_id",
        "/data/attributes/items/data/4/relationships/categories/data/0/id",
    ]
    assert len(done["relationships"]["items"]["data"]) == 3
    assert sandbox.stats()["catalog_items"] == 4


def test_bulk_update_and_delete_jobs(sandbox: SandboxControl) -> None:
    for n in range(2):
        sandbox.api.post("/api/catalog-items", json=bodies.item(f"u-{n}"))
    ids = [f"$custom:::$default:::u-{n}" for n in range(2)]
    updates = [
        {"type": "catalog-item", "id": i, "attributes": {"published": False}}
        for i in [*ids, "missing"]
    ]
    job = sandbox.api.post(
        "/api/catalog-item-bulk-update-jobs", json=bodies.catalog_job("item", "update", updates)
    ).json()["data"]
    done = _wait_job(sandbox, "/api/catalog-item-bulk-update-jobs", job["id"])
    assert done["attributes"]["failed_count"] == 1
    assert all(i["attributes"]["published"] is False for i in sandbox.catalog()["items"])

    deletes = [{"type": "catalog-item", "id": i} for i in ids]
    job = sandbox.api.post(
        "/api/catalog-item-bulk-delete-jobs", json=bodies.catalog_job("item", "delete", deletes)
    ).json()["data"]
    _wait_job(sandbox, "/api/catalog-item-bulk-delete-jobs", job["id"])
    assert sandbox.stats()["catalog_items"] == 0


def test_variant_and_category_bulk_jobs(sandbox: SandboxControl) -> None:
    sandbox.api.post("/api/catalog-items", json=bodies.item("sku-1"))
    variants = [bodies.variant(f"v-{n}", ITEM_ID)["data"] for n in range(3)]
    job = sandbox.api.post(
        "/api/catalog-variant-bulk-create-jobs",
        json=bodies.catalog_job("variant", "create", variants),
    )
    assert job.status_code == 202
    categories = [bodies.category(f"c-{n}")["data"] for n in range(2)]
    cjob = sandbox.api.post(
        "/api/catalog-category-bulk-create-jobs",
        json=bodies.catalog_job("category", "create", categories),
    )
    assert cjob.status_code == 202
    _wait_job(sandbox, "/api/catalog-variant-bulk-create-jobs", job.json()["data"]["id"])
    _wait_job(sandbox, "/api/catalog-category-bulk-create-jobs", cjob.json()["data"]["id"])
    stats = sandbox.stats()
    assert (stats["catalog_variants"], stats["catalog_categories"]) == (3, 2)
    vupd = [
        {"type": "catalog-variant", "id": "$custom:::$default:::v-0", "attributes": {"price": 9.5}}
    ]
    j = sandbox.api.post(
        "/api/catalog-variant-bulk-update-jobs", json=bodies.catalog_job("variant", "update", vupd)
    ).json()["data"]
    _wait_job(sandbox, "/api/catalog-variant-bulk-update-jobs", j["id"])
    cdel = [{"type": "catalog-category", "id": "$custom:::$default:::c-0"}]
    j = sandbox.api.post(
        "/api/catalog-category-bulk-delete-jobs",
        json=bodies.catalog_job("category", "delete", cdel),
    ).json()["data"]
    _wait_job(sandbox, "/api/catalog-category-bulk-delete-jobs", j["id"])
    assert sandbox.stats()["catalog_categories"] == 1


def test_bulk_job_over_100_items_is_400(sandbox: SandboxControl) -> None:
    rows = [bodies.item(f"o-{n}")["data"] for n in range(101)]
    response = sandbox.api.post(
        "/api/catalog-item-bulk-create-jobs", json=bodies.catalog_job("item", "create", rows)
    )
    assert response.status_code == 400
    assert _pointer(response) == "/data/attributes/items/data"


def test_bulk_job_with_invalid_row_shape_fails_whole_request(sandbox: SandboxControl) -> None:
    rows = [bodies.item("ok")["data"], {"type": "catalog-item", "attributes": {"external_id": "x"}}]
    response = sandbox.api.post(
        "/api/catalog-item-bulk-create-jobs", json=bodies.catalog_job("item", "create", rows)
    )
    assert response.status_code == 400
    assert _pointer(response) == "/data/attributes/items/data/1/attributes/title"
