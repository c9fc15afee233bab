"""End to end: the sandbox sends real signed consent webhooks to the API served by uvicorn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.klaviyo.settings import set_setting
from app.klaviyo.webhooks.apply import apply_pending
from tests.fixtures.webhooks import get_json, post_raw, wait_until
from tests.klaviyo.webhooks.helpers import (
    consent_change,
    customer_with_profile,
    inbox_count,
    replay_headers,
    resigned,
    wait_for_inbox,
)
from tests.klaviyo.webhooks.records import inbox, state_of

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("subscribed", "actions", "status", "reason", "store_accepts"),
    [
        (False, ["subscribe"], "subscribed", None, True),
        (True, ["unsubscribe"], "unsubscribed", None, False),
        (True, ["suppress"], "suppressed", "manually_suppressed", True),
        (True, ["bounce"], "suppressed", "bounced", True),
        (True, ["spam"], "suppressed", "marked_as_spam", True),
        (True, ["suppress", "unsuppress"], "subscribed", None, True),
    ],
)
async def test_each_consent_topic_is_applied(
    webhook_setup, conn, db_pool, sandbox, subscribed, actions, status, reason, store_accepts
):
    customer, profile = await customer_with_profile(
        conn, sandbox, "zoe@example.com", subscribed, LONG_AGO
    )
    for action in actions:
        await consent_change(conn, db_pool, sandbox, profile, action)

    state = await state_of(conn, customer)
    assert (state["subscription_status"], state["suppression_reason"]) == (status, reason)
    assert state["accepts_email_marketing"] is store_accepts
    assert state["klaviyo_profile_id"] == profile
    assert {r["status"] for r in await inbox(conn)} == {"applied"}
    assert all(d["statuses"] == [200] for d in sandbox.deliveries())


async def test_refused_deliveries_store_nothing(webhook_setup, conn, db_pool, sandbox):
    _, profile = await customer_with_profile(conn, sandbox, "zoe@example.com")
    sandbox.consent(profile, "subscribe")
    await wait_for_inbox(conn, 1)
    real = webhook_setup.server.captured[0]
    url, secret = webhook_setup.server.webhook_url, webhook_setup.secret
    # Each variant names a new event, so a stored one would show as a second inbox row.
    other_event = real.body.replace(b'"external_id":"', b'"external_id":"x', 1)

    bad_signature = replay_headers(real)
    bad_signature["klaviyo-signature"] = "0" * 64
    non_ascii_signature: dict = replay_headers(real)
    non_ascii_signature["klaviyo-signature"] = "é".encode() * 32
    variants = {
        "bad signature": (other_event, bad_signature),
        "non-ASCII signature": (other_event, non_ascii_signature),
        "wrong secret": resigned(real, "not-the-secret-at-all", body=other_event),
        "tampered body": (other_event, replay_headers(real)),
        "stale timestamp": resigned(
            real,
            secret,
            body=other_event,
            timestamp=(datetime.now(UTC) - timedelta(minutes=6)).isoformat(),
        ),
        "mismatched webhook id": resigned(
            real, secret, body=other_event, klaviyo_webhook_id="01OTHERWEBHOOK"
        ),
        "no signature": (other_event, {"content-type": "application/json"}),
    }
    for name, (body, headers) in variants.items():
        response = post_raw(url, body, headers)
        assert response.status_code == 401, name
        assert response.json()["errorCode"] == "UNAUTHORIZED", name
    assert await inbox_count(conn) == 1

    # The same body correctly signed is accepted: the refusals were about the signing alone.
    response = post_raw(url, *resigned(real, secret, body=other_event))
    assert response.status_code == 200
    assert response.json()["data"] == {"received": 1, "new": 1}


async def test_a_sandbox_webhook_with_the_wrong_secret_is_refused(webhook_setup, conn, sandbox):
    sandbox.add_webhook(webhook_setup.server.webhook_url, "a-secret-the-store-never-saw")
    _, profile = await customer_with_profile(conn, sandbox, "zoe@example.com")
    sandbox.consent(profile, "unsubscribe")
    sandbox.wait_for(lambda: {d["state"] for d in sandbox.deliveries()} == {"delivered", "failed"})
    statuses = {d["webhook_id"]: d["statuses"] for d in sandbox.deliveries()}
    assert statuses.pop(webhook_setup.webhook_id) == [200]
    assert set(next(iter(statuses.values()))) == {401}
    assert await inbox_count(conn) == 1


async def test_duplicate_and_replayed_deliveries_apply_once(webhook_setup, conn, db_pool, sandbox):
    # A second webhook to the same endpoint: every change arrives twice, same external_id.
    sandbox.add_webhook(webhook_setup.server.webhook_url, webhook_setup.secret)
    customer, profile = await customer_with_profile(conn, sandbox, "zoe@example.com", True)
    sandbox.consent(profile, "unsubscribe")
    sandbox.wait_for(lambda: [d["state"] for d in sandbox.deliveries()] == ["delivered"] * 2)
    captured = webhook_setup.server.captured
    assert len(captured) == 2
    assert await inbox_count(conn) == 1

    replay = post_raw(
        webhook_setup.server.webhook_url, captured[0].body, replay_headers(captured[0])
    )
    assert replay.status_code == 200
    assert replay.json()["data"] == {"received": 1, "new": 0}
    assert await inbox_count(conn) == 1

    assert await apply_pending(db_pool) == {"unsubscribed": 1}
    assert await apply_pending(db_pool) == {}
    assert (await state_of(conn, customer))["subscription_status"] == "unsubscribed"


async def test_out_of_order_deliveries_resolve_by_event_time(webhook_setup, conn, db_pool, sandbox):
    customer, profile = await customer_with_profile(conn, sandbox, "zoe@example.com")
    sandbox.consent(profile, "subscribe")
    await wait_for_inbox(conn, 1)
    sandbox.consent(profile, "unsubscribe")
    await wait_for_inbox(conn, 2)
    older, newer = webhook_setup.server.captured

    # The same two signed deliveries arriving the other way round, on a fresh inbox.
    await conn.execute("TRUNCATE klaviyo.webhook_inbox")
    url = webhook_setup.server.webhook_url
    assert post_raw(url, newer.body, replay_headers(newer)).status_code == 200
    await apply_pending(db_pool)
    assert post_raw(url, older.body, replay_headers(older)).status_code == 200
    await apply_pending(db_pool)

    state = await state_of(conn, customer)
    assert (state["subscription_status"], state["accepts_email_marketing"]) == (
        "unsubscribed",
        False,
    )
    assert [r["result"] for r in await inbox(conn)] == ["unsubscribed", "stale"]


@pytest.mark.parametrize("switch", ["webhook_ingest_enabled", "sync_enabled"])
async def test_ingest_switch_answers_404_and_stores_nothing(webhook_setup, conn, sandbox, switch):
    _, profile = await customer_with_profile(conn, sandbox, "zoe@example.com")
    await set_setting(conn, switch, False)
    sandbox.consent(profile, "subscribe")
    sandbox.wait_for(lambda: sandbox.deliveries()[0]["state"] == "failed")
    assert set(sandbox.deliveries()[0]["statuses"]) == {404}
    assert await inbox_count(conn) == 0

    captured = webhook_setup.server.captured[0]
    url = webhook_setup.server.webhook_url
    response = post_raw(url, captured.body, replay_headers(captured))
    assert (response.status_code, response.json()["errorCode"]) == (404, "NOT_FOUND")

    await set_setting(conn, switch, True)
    assert post_raw(url, captured.body, replay_headers(captured)).status_code == 200
    assert await inbox_count(conn) == 1


async def test_settings_changed_since_the_last_delivery_take_effect_at_once(
    webhook_setup, conn, sandbox
):
    """The endpoint keeps the settings it read last; a rotated secret or a switch turned off
    since then holds for the very next delivery all the same."""
    from app.klaviyo.credentials import store_webhook_secret

    _, profile = await customer_with_profile(conn, sandbox, "zoe@example.com")
    sandbox.consent(profile, "subscribe")
    await wait_for_inbox(conn, 1)
    real = webhook_setup.server.captured[0]
    url, old_secret = webhook_setup.server.webhook_url, webhook_setup.secret

    def event(n: int) -> bytes:  # each a new event, so a stored one shows as a new inbox row
        return real.body.replace(b'"external_id":"', f'"external_id":"rotated{n}-'.encode(), 1)

    new_secret = "a-rotated-webhook-secret-0123456789"
    await store_webhook_secret(conn, webhook_setup.server.cipher(), new_secret)
    # Signed with the secret the endpoint read last, which is no longer the stored one.
    response = post_raw(url, *resigned(real, old_secret, body=event(1)))
    assert (response.status_code, response.json()["errorCode"]) == (401, "UNAUTHORIZED")
    assert await inbox_count(conn) == 1
    response = post_raw(url, *resigned(real, new_secret, body=event(2)))
    assert (response.status_code, response.json()["data"]) == (200, {"received": 1, "new": 1})
    assert await inbox_count(conn) == 2

    # Switched off right after a delivery was accepted: the next one finds it off.
    await set_setting(conn, "webhook_ingest_enabled", False)
    response = post_raw(url, *resigned(real, new_secret, body=event(3)))
    assert (response.status_code, response.json()["errorCode"]) == (404, "NOT_FOUND")
    assert await inbox_count(conn) == 2
    await set_setting(conn, "webhook_ingest_enabled", True)
    assert post_raw(url, *resigned(real, new_secret, body=event(3))).status_code == 200
    assert await inbox_count(conn) == 3


async def test_module_switch_removes_the_route(serve_api, clean_db, conn):
    with serve_api(KLAVIYO_MODULE_ENABLED="false") as server:
        response = post_raw(server.webhook_url, b'{"data": []}', {"klaviyo-signature": "x"})
        assert response.status_code == 404
        # The OpenAPI document is the other witness: the module's routes are not served at all.
        paths = get_json(f"{server.base_url}/schema/openapi.json")["paths"]
        assert "/webhooks/klaviyo" not in paths
    assert await inbox_count(conn) == 0


async def test_malformed_and_oversized_bodies(webhook_setup, serve_api, conn):
    real_secret = webhook_setup.secret
    url = webhook_setup.server.webhook_url
    captured_like = type("C", (), {"body": b"", "headers": {"klaviyo-webhook-id": "01W"}})()
    body, headers = resigned(captured_like, real_secret, body=b'{"data": [ nope')
    response = post_raw(url, body, headers)
    assert (response.status_code, response.json()["errorCode"]) == (400, "BAD_REQUEST")

    body, headers = resigned(captured_like, real_secret, body=b'{"data": [{"topic": 7}]}')
    assert post_raw(url, body, headers).status_code == 400

    with serve_api(KLAVIYO_WEBHOOK_MAX_BODY_BYTES="512") as small:
        big = b'{"data": [], "meta": {"pad": "' + b"x" * 600 + b'"}}'
        body, headers = resigned(captured_like, real_secret, body=big)
        response = post_raw(small.webhook_url, body, headers)
        assert (response.status_code, response.json()["errorCode"]) == (413, "PAYLOAD_TOO_LARGE")
    assert await inbox_count(conn) == 0


async def test_the_deferred_job_and_the_sweep_apply_deliveries(webhook_setup, conn, sandbox):
    from app.worker import build_app

    customer, profile = await customer_with_profile(conn, sandbox, "zoe@example.com")
    sandbox.consent(profile, "subscribe")
    await wait_for_inbox(conn, 1)

    async def deferred():
        cur = await conn.execute(
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE task_name = 'klaviyo_webhooks:apply_inbox' AND status = 'todo'"
        )
        return (await cur.fetchone())[0] == 1

    await wait_until(deferred)
    worker = build_app(webhook_setup.server.config)
    async with worker.open_async():
        await worker.run_worker_async(wait=False, install_signal_handlers=False)
        assert (await state_of(conn, customer))["subscription_status"] == "subscribed"

        # A lost defer: the row waits for the sweep, which applies it as well.
        sandbox.consent(profile, "unsubscribe")
        await wait_for_inbox(conn, 2)
        await wait_until(deferred)
        await conn.execute("DELETE FROM procrastinate_jobs WHERE status = 'todo'")
        await worker.configure_task("klaviyo_webhooks:sweep_inbox").defer_async(timestamp=0)
        await worker.run_worker_async(wait=False, install_signal_handlers=False)
    assert (await state_of(conn, customer))["subscription_status"] == "unsubscribed"
    assert {r["status"] for r in await inbox(conn)} == {"applied"}
