"""Admin endpoints of the event surface: envelope, validation, auth and resync semantics."""

from __future__ import annotations

import pytest

from tests.klaviyo.drain.rows import insert_events

ITEM_KEYS = {
    "id",
    "metricName",
    "idempotencyKey",
    "customerId",
    "email",
    "status",
    "occurredAt",
    "enqueuedAt",
    "processedAt",
    "attempts",
    "lastError",
    "valueCents",
    "valueCurrency",
}


async def _fail(conn, *keys: str) -> None:
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET status = 'failed', attempts = 3, processed_at = now(), "
        "last_error = 'events row x: Klaviyo 400 invalid: bad' WHERE idempotency_key = ANY(%s)",
        (list(keys),),
    )


async def test_failed_list_newest_first_with_the_contract_shape(api, session_headers, conn) -> None:
    await insert_events(conn, 5)
    await _fail(conn, "order:2", "order:4")
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET enqueued_at = now() + interval '1 minute' "
        "WHERE idempotency_key = 'order:2'"
    )
    response = await api.get(
        "/admin/klaviyo/events/failed?limit=1", headers=await session_headers(role="support")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["metadata"] == {"total": 2, "limit": 1, "offset": 0, "hasMore": True}
    [item] = body["data"]
    assert set(item) == ITEM_KEYS
    assert item["idempotencyKey"] == "order:2" and item["metricName"] == "Placed Order"
    assert item["valueCents"] == 1999 and item["valueCurrency"] == "USD"
    assert (
        item["status"] == "failed" and item["attempts"] == 3 and "Klaviyo 400" in item["lastError"]
    )


@pytest.mark.parametrize(("query", "field"), [("page=0", "page"), ("limit=500", "limit")])
async def test_bad_paging_is_a_validation_error(api, session_headers, query, field) -> None:
    response = await api.get(
        f"/admin/klaviyo/events/failed?{query}", headers=await session_headers()
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == "VALIDATION_ERROR"
    assert response.json()["details"][0]["field"] == field


async def test_resync_resets_the_row_for_the_next_tick(api, session_headers, conn) -> None:
    await insert_events(conn, 2)
    await _fail(conn, "order:1")
    cur = await conn.execute(
        "SELECT id::text FROM klaviyo.event_outbox WHERE idempotency_key = 'order:1'"
    )
    (event_id,) = await cur.fetchone()
    response = await api.post(
        f"/admin/klaviyo/events/resync/{event_id}", headers=await session_headers()
    )
    assert response.status_code == 200 and response.json()["data"] == {"enqueued": True}
    cur = await conn.execute(
        "SELECT status, attempts, processed_at, last_error, next_attempt_at <= now() "
        "FROM klaviyo.event_outbox WHERE id = %s",
        (event_id,),
    )
    assert await cur.fetchone() == ("pending", 0, None, None, True)


async def test_resync_of_a_sent_row_is_accepted(api, session_headers, conn) -> None:
    await insert_events(conn, 1)
    await conn.execute("UPDATE klaviyo.event_outbox SET status = 'sent', processed_at = now()")
    cur = await conn.execute("SELECT id::text FROM klaviyo.event_outbox")
    (event_id,) = await cur.fetchone()
    response = await api.post(
        f"/admin/klaviyo/events/resync/{event_id}", headers=await session_headers()
    )
    assert response.json()["data"] == {"enqueued": True}


@pytest.mark.parametrize("event_id", ["deadbeef", "00000000-0000-0000-0000-000000000000"])
async def test_a_well_formed_id_without_a_row_enqueues_nothing(
    api, session_headers, event_id
) -> None:
    response = await api.post(
        f"/admin/klaviyo/events/resync/{event_id}", headers=await session_headers()
    )
    assert response.status_code == 200 and response.json()["data"] == {"enqueued": False}


@pytest.mark.parametrize("event_id", ["nope", "ABCDEF12", "1234567", "order:1-xxxx"])
async def test_a_malformed_id_is_not_found(api, session_headers, event_id) -> None:
    response = await api.post(
        f"/admin/klaviyo/events/resync/{event_id}", headers=await session_headers()
    )
    assert response.status_code == 404
    body = response.json()
    assert body["errorCode"] == "NOT_FOUND" and body["statusCode"] == 404


async def test_auth(api, session_headers) -> None:
    assert (await api.get("/admin/klaviyo/events/failed")).status_code == 401
    support = await session_headers(role="support")
    assert (await api.get("/admin/klaviyo/events/failed", headers=support)).status_code == 200
    response = await api.post("/admin/klaviyo/events/resync/deadbeef", headers=support)
    assert response.status_code == 403
