"""Admin endpoints of the catalog, category and coupon surfaces: envelope, validation, auth,
and fire-and-forget semantics."""

from __future__ import annotations

import pytest

from app.store.catalog import VariantInput, create_category, create_product

FAILED_LISTS = {
    "/admin/klaviyo/catalog/failed": (
        "catalog_state",
        "variant_id",
        {
            "variantId",
            "klaviyoCatalogItemId",
            "status",
            "lastError",
            "attempts",
            "lastPushedAt",
            "updatedAt",
        },
    ),
    "/admin/klaviyo/categories/failed": (
        "category_state",
        "category_id",
        {
            "categoryId",
            "klaviyoCategoryId",
            "status",
            "lastError",
            "attempts",
            "lastPushedAt",
            "updatedAt",
        },
    ),
    "/admin/klaviyo/coupons/failed": (
        "coupon_state",
        "discount_id",
        {
            "discountId",
            "klaviyoCouponId",
            "klaviyoCouponCodeId",
            "lastPushedCode",
            "status",
            "lastError",
            "attempts",
            "lastPushedAt",
            "updatedAt",
        },
    ),
}
RESYNCS = {
    "/admin/klaviyo/catalog/resync": ("catalog_state", "variant_id"),
    "/admin/klaviyo/categories/resync": ("category_state", "category_id"),
    "/admin/klaviyo/coupons/resync": ("coupon_state", "discount_id"),
}
BOOTSTRAPS = ["/admin/klaviyo/catalog/bootstrap", "/admin/klaviyo/categories/bootstrap"]


@pytest.mark.parametrize("path", sorted(FAILED_LISTS))
async def test_failed_lists_newest_first_with_metadata(api, session_headers, conn, path) -> None:
    table, key, fields = FAILED_LISTS[path]
    await conn.execute(
        f"INSERT INTO klaviyo.{table} ({key}, status, last_error, updated_at) "
        "SELECT 'id-' || n, CASE WHEN n % 2 = 0 THEN 'failed' ELSE 'synced' END, "
        "'boom ' || n, now() - make_interval(secs => n) FROM generate_series(1, 7) n"
    )
    headers = await session_headers(role="admin")
    response = await api.get(path, params={"page": 1, "limit": 2}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Success" and body["statusCode"] == 200
    assert body["metadata"] == {"total": 3, "limit": 2, "offset": 0, "hasMore": True}
    assert [set(item) for item in body["data"]] == [fields, fields]
    camel_key = next(f for f in fields if f.endswith("Id") and f.lower().startswith(key[:3]))
    assert [item[camel_key] for item in body["data"]] == ["id-2", "id-4"]
    assert {item["status"] for item in body["data"]} == {"failed"}

    last = await api.get(path, params={"page": 2, "limit": 2}, headers=headers)
    assert last.json()["metadata"] == {"total": 3, "limit": 2, "offset": 2, "hasMore": False}
    assert [item[camel_key] for item in last.json()["data"]] == ["id-6"]


@pytest.mark.parametrize("path", sorted(FAILED_LISTS))
@pytest.mark.parametrize(("param", "value"), [("page", "0"), ("limit", "201"), ("limit", "x")])
async def test_failed_lists_validate_paging(api, session_headers, path, param, value) -> None:
    response = await api.get(path, params={param: value}, headers=await session_headers())
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "VALIDATION_ERROR"
    assert param in body["message"]


ALL_ROUTES = (
    [("GET", p) for p in FAILED_LISTS]
    + [("POST", f"{p}/x1") for p in RESYNCS]
    + [("POST", p) for p in BOOTSTRAPS]
)


@pytest.mark.parametrize(("method", "path"), ALL_ROUTES)
async def test_every_route_needs_a_session(api, method, path) -> None:
    response = await api.request(method, path)
    assert response.status_code == 401
    assert response.json()["errorCode"] == "UNAUTHORIZED"


@pytest.mark.parametrize(("method", "path"), [r for r in ALL_ROUTES if r[0] == "POST"])
async def test_mutations_need_manage(api, session_headers, method, path) -> None:
    response = await api.request(method, path, headers=await session_headers(role="support"))
    assert response.status_code == 403
    assert response.json()["errorCode"] == "FORBIDDEN"


@pytest.mark.parametrize("path", sorted(RESYNCS))
async def test_resync_enqueues_even_an_unknown_id(api, session_headers, conn, path) -> None:
    table, key = RESYNCS[path]
    headers = await session_headers(role="admin")
    response = await api.post(f"{path}/not-in-store", headers=headers)
    assert response.status_code == 200
    assert response.json()["data"] == {"enqueued": True}
    cur = await conn.execute(f"SELECT status FROM klaviyo.{table} WHERE {key} = 'not-in-store'")
    assert await cur.fetchone() == ("pending",)

    await conn.execute(f"UPDATE klaviyo.{table} SET status = 'failed', attempts = 8")
    again = await api.post(f"{path}/not-in-store", headers=headers)
    assert again.json()["data"] == {"enqueued": True}
    cur = await conn.execute(f"SELECT status, attempts FROM klaviyo.{table}")
    assert await cur.fetchall() == [("pending", 0)]


@pytest.mark.parametrize("path", sorted(RESYNCS))
async def test_resync_rejects_an_id_no_store_could_hold(api, session_headers, path) -> None:
    response = await api.post(f"{path}/{'x' * 300}", headers=await session_headers())
    assert response.status_code == 400
    assert response.json()["errorCode"] == "VALIDATION_ERROR"


async def test_bootstraps_count_and_never_duplicate(api, session_headers, conn) -> None:
    category = await create_category(conn, "Desks", slug="desks")
    await create_product(
        conn,
        "Desk",
        category_ids=[category],
        variants=[VariantInput(price_minor=1, currency="USD", title=str(n)) for n in range(3)],
    )
    headers = await session_headers(role="admin")
    for _ in range(2):
        catalog = await api.post("/admin/klaviyo/catalog/bootstrap", headers=headers)
        categories = await api.post("/admin/klaviyo/categories/bootstrap", headers=headers)
        assert catalog.status_code == categories.status_code == 200
        assert catalog.json()["data"] == {"enqueued": 3}
        assert categories.json()["data"] == {"enqueued": 1}
    cur = await conn.execute("SELECT count(*) FROM klaviyo.catalog_state")
    assert await cur.fetchone() == (3,)


async def test_coupons_have_no_bootstrap(api, session_headers) -> None:
    response = await api.post("/admin/klaviyo/coupons/bootstrap", headers=await session_headers())
    assert response.status_code in (404, 405)
