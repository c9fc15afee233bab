"""Admin endpoints of the profile surface: envelope, validation, auth and semantics."""

from __future__ import annotations

import pytest

from app.store.customers import create_customer

ITEM_KEYS = {
    "id",
    "customerId",
    "email",
    "klaviyoProfileId",
    "status",
    "subscriptionStatus",
    "lastError",
    "attempts",
    "lastSyncedAt",
    "updatedAt",
}


async def _customers(conn, count: int) -> None:
    for n in range(count):
        await create_customer(conn, customer_id=f"c{n:03d}", email=f"c{n}@example.com")


async def test_list_is_newest_first_with_exact_metadata(api, session_headers, conn) -> None:
    await _customers(conn, 7)
    await conn.execute(
        "UPDATE klaviyo.profile_state SET updated_at = now() + interval '1 minute' "
        "WHERE customer_id = 'c003'"
    )
    headers = await session_headers(role="support")
    response = await api.get("/admin/klaviyo/profiles?page=1&limit=3", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Success" and body["statusCode"] == 200
    assert body["metadata"] == {"total": 7, "limit": 3, "offset": 0, "hasMore": True}
    assert len(body["data"]) == 3 and set(body["data"][0]) == ITEM_KEYS
    first = body["data"][0]
    assert first["customerId"] == "c003" and first["status"] == "pending"
    assert first["subscriptionStatus"] == "never_subscribed" and first["attempts"] == 0
    assert first["updatedAt"].endswith("+00:00") or first["updatedAt"].endswith("Z")

    last = await api.get("/admin/klaviyo/profiles?page=3&limit=3", headers=headers)
    assert last.json()["metadata"] == {"total": 7, "limit": 3, "offset": 6, "hasMore": False}
    assert len(last.json()["data"]) == 1


async def test_failed_list_shows_only_failed_rows(api, session_headers, conn) -> None:
    await _customers(conn, 5)
    await conn.execute(
        "UPDATE klaviyo.profile_state SET status = 'failed', last_error = 'profiles row x: ...' "
        "WHERE customer_id IN ('c001', 'c004')"
    )
    response = await api.get("/admin/klaviyo/profiles/failed", headers=await session_headers())
    body = response.json()
    assert body["metadata"] == {"total": 2, "limit": 50, "offset": 0, "hasMore": False}
    assert {item["customerId"] for item in body["data"]} == {"c001", "c004"}
    assert all(item["status"] == "failed" for item in body["data"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=x", "page"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=1.5", "limit"),
        ("page=-1", "page"),
        # Past any table, and its row offset would overflow PostgreSQL's bigint.
        ("page=99999999999999999999", "page"),
    ],
)
@pytest.mark.parametrize("path", ["/admin/klaviyo/profiles", "/admin/klaviyo/profiles/failed"])
async def test_bad_paging_is_a_validation_error_naming_the_field(
    api, session_headers, path, query, field
) -> None:
    response = await api.get(f"{path}?{query}", headers=await session_headers())
    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "VALIDATION_ERROR" and body["statusCode"] == 400
    assert field in body["message"] and body["details"][0]["field"] == field


async def test_resync_touches_the_customer(api, session_headers, conn) -> None:
    await create_customer(conn, customer_id="r1", email="r1@example.com")
    await conn.execute(
        "UPDATE klaviyo.profile_state SET status = 'failed', attempts = 8, last_error = 'x'"
    )
    before = (
        await (await conn.execute("SELECT change_seq FROM klaviyo.profile_state")).fetchone()
    )[0]
    response = await api.post("/admin/klaviyo/profiles/resync/r1", headers=await session_headers())
    assert response.status_code == 200
    assert response.json()["data"] == {"enqueued": True}
    cur = await conn.execute(
        "SELECT status, attempts, last_error, change_seq FROM klaviyo.profile_state"
    )
    assert await cur.fetchone() == ("pending", 0, None, before + 1)


async def test_resync_of_an_unknown_customer_enqueues_nothing(api, session_headers, conn) -> None:
    response = await api.post(
        "/admin/klaviyo/profiles/resync/nobody", headers=await session_headers()
    )
    assert response.status_code == 200 and response.json()["data"] == {"enqueued": False}
    cur = await conn.execute("SELECT count(*) FROM klaviyo.profile_state")
    assert (await cur.fetchone())[0] == 0


async def test_bootstrap_enqueues_every_customer_and_never_duplicates(
    api, session_headers, conn
) -> None:
    await _customers(conn, 6)
    await conn.execute("UPDATE core.customers SET deleted_at = now() WHERE id = 'c005'")
    await conn.execute("UPDATE klaviyo.profile_state SET status = 'synced'")
    headers = await session_headers()
    for _ in range(2):
        response = await api.post("/admin/klaviyo/profiles/bootstrap", headers=headers)
        assert response.status_code == 200 and response.json()["data"] == {"enqueued": 5}
    cur = await conn.execute("SELECT status, count(*) FROM klaviyo.profile_state GROUP BY 1")
    assert dict(await cur.fetchall()) == {"pending": 5, "synced": 1}
    listed = await api.get("/admin/klaviyo/profiles", headers=headers)
    assert listed.json()["metadata"]["total"] == 6


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/klaviyo/profiles"),
        ("GET", "/admin/klaviyo/profiles/failed"),
        ("POST", "/admin/klaviyo/profiles/resync/c1"),
        ("POST", "/admin/klaviyo/profiles/bootstrap"),
    ],
)
async def test_a_session_is_required(api, method, path) -> None:
    response = await api.request(method, path)
    assert response.status_code == 401 and response.json()["errorCode"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "path", ["/admin/klaviyo/profiles/resync/c1", "/admin/klaviyo/profiles/bootstrap"]
)
async def test_changes_need_klaviyo_manage(api, session_headers, path) -> None:
    response = await api.post(path, headers=await session_headers(role="support"))
    assert response.status_code == 403 and response.json()["errorCode"] == "FORBIDDEN"


async def test_reads_need_klaviyo_view(api, session_headers) -> None:
    response = await api.get("/admin/klaviyo/profiles", headers=await session_headers(role="user"))
    assert response.status_code == 403
