"""The event drain against the sandbox over HTTP: bulk jobs, isolation of a bad row, retries."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from app.klaviyo.drain.events import drain_events
from app.klaviyo.rate_budget import STEADY_GUARD_S, KlaviyoRateBudget
from tests.fixtures.drain import drain_until
from tests.klaviyo.drain.rows import event_statuses, insert_events, one


async def _all_settled(conn) -> bool:
    statuses = await event_statuses(conn)
    return statuses.get("pending", 0) == 0


def _unique_ids(sandbox) -> Counter:
    sandbox.wait_jobs_done(timeout=10)
    return Counter(e["unique_id"] for e in sandbox.events())


async def test_a_backlog_goes_out_in_bulk_jobs_of_1000(conn, sandbox, make_drain) -> None:
    await insert_events(conn, 2500)
    report = await drain_events(make_drain(), parallel=1)
    assert (report.sent, report.failed) == (2500, 0)
    assert await event_statuses(conn) == {"sent": 2500}
    # 1000 + 1000 + 500: three bulk requests, never one per row.
    assert report.requests == 3
    assert sandbox.stats()["requests_per_status"] == {"202": 3}
    unique_ids = _unique_ids(sandbox)
    assert len(unique_ids) == 2500 and set(unique_ids.values()) == {1}
    assert (
        await one(conn, "SELECT count(*) FROM klaviyo.event_outbox WHERE processed_at IS NULL") == 0
    )


async def test_a_lone_event_uses_post_events(conn, sandbox, make_drain) -> None:
    await insert_events(conn, 1)
    report = await drain_events(make_drain())
    assert report.sent == 1 and report.requests == 1
    [event] = sandbox.events()
    assert event["unique_id"] == "order:1" and event["value"] == 19.99


async def test_one_poisoned_row_in_1000_fails_alone(conn, sandbox, make_drain) -> None:
    await insert_events(conn, 1000)
    # Klaviyo refuses an event time more than a year ahead; only row order:417 carries one.
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET occurred_at = now() + interval '3 years' "
        "WHERE idempotency_key = 'order:417'"
    )
    report = await drain_events(make_drain(), parallel=1)
    assert (report.sent, report.failed) == (999, 1)
    assert await event_statuses(conn) == {"sent": 999, "failed": 1}
    key, error, attempts = await one(
        conn,
        "SELECT idempotency_key, last_error, attempts FROM klaviyo.event_outbox "
        "WHERE status = 'failed'",
    )
    assert key == "order:417" and attempts == 1
    assert error.startswith("events row ")
    assert "Klaviyo 400 invalid" in error and "/attributes/time" in error
    assert "idempotency key order:417" in error
    assert "order:417" not in _unique_ids(sandbox) and len(_unique_ids(sandbox)) == 999
    assert sandbox.stats()["requests_per_status"] == {"400": 1, "202": 1}


async def test_an_unbuildable_row_fails_before_any_request(conn, sandbox, make_drain) -> None:
    await insert_events(conn, 20)
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET value_currency = 'XXQ' WHERE idempotency_key = 'order:3'"
    )
    report = await drain_events(make_drain())
    assert (report.sent, report.failed) == (19, 1)
    error = await one(conn, "SELECT last_error FROM klaviyo.event_outbox WHERE status = 'failed'")
    assert "unbuildable" in error and "XXQ" in error


async def test_status_events_sharing_a_unique_id_go_in_separate_requests(
    conn, sandbox, make_drain
) -> None:
    await insert_events(conn, 10, prefix="order:", metric="Placed Order")
    await insert_events(conn, 10, prefix="fulfil:", metric="Fulfilled Order")
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET unique_id = 'order:' || substr(idempotency_key, 8) "
        "WHERE idempotency_key LIKE 'fulfil:%'"
    )
    report = await drain_events(make_drain())
    assert report.sent == 20 and report.failed == 0
    sandbox.wait_jobs_done()
    per_metric = Counter(e["metric"] for e in sandbox.events())
    assert per_metric == {"Placed Order": 10, "Fulfilled Order": 10}


async def test_transient_failures_retry_with_the_same_unique_id(conn, sandbox, make_drain) -> None:
    await insert_events(conn, 300)
    sandbox.set_fault("status", path_prefix="/api/event-bulk-create-jobs", status=503, times=2)
    sandbox.set_fault("reset", path_prefix="/api/event-bulk-create-jobs", times=1)
    await drain_until(lambda: drain_events(make_drain(batch_size=100)), lambda: _all_settled(conn))
    assert await event_statuses(conn) == {"sent": 300}
    assert await one(conn, "SELECT max(attempts) FROM klaviyo.event_outbox") >= 2
    unique_ids = _unique_ids(sandbox)
    assert len(unique_ids) == 300 and set(unique_ids.values()) == {1}


async def test_a_timeout_is_retried_and_the_resend_is_not_a_duplicate(
    conn, sandbox, make_drain
) -> None:
    await insert_events(conn, 50)
    # "malformed" processes the request and garbles the answer; the drain cannot know it
    # landed, sends again, and Klaviyo's unique_id dedup drops the second copy.
    sandbox.set_fault("hang", path_prefix="/api/event-bulk-create-jobs", hang_s=1.5, times=1)
    await drain_until(lambda: drain_events(make_drain()), lambda: _all_settled(conn))
    assert await event_statuses(conn) == {"sent": 50}
    unique_ids = _unique_ids(sandbox)
    assert len(unique_ids) == 50 and set(unique_ids.values()) == {1}


async def test_after_max_attempts_the_row_is_failed(conn, sandbox, make_drain) -> None:
    await insert_events(conn, 5)
    sandbox.set_fault("status", path_prefix="/api/event", status=500)
    await drain_until(lambda: drain_events(make_drain(max_attempts=3)), lambda: _all_settled(conn))
    assert await event_statuses(conn) == {"failed": 5}
    attempts, error = await one(
        conn, "SELECT max(attempts), max(last_error) FROM klaviyo.event_outbox"
    )
    assert attempts == 3 and "Klaviyo 500" in error


async def test_429_waits_for_retry_after_without_using_up_attempts(
    conn, sandbox, make_drain
) -> None:
    await insert_events(conn, 40)
    sandbox.set_fault(
        "throttle", path_prefix="/api/event-bulk-create-jobs", retry_after_s=1, times=3
    )
    await drain_until(
        lambda: drain_events(make_drain(max_attempts=2, budget=True)), lambda: _all_settled(conn)
    )
    assert await event_statuses(conn) == {"sent": 40}
    assert await one(conn, "SELECT max(attempts) FROM klaviyo.event_outbox") == 1
    # One budget row per operation: a lone event may go through the single-event endpoint.
    throttled = "SELECT sum(throttled_count) FROM klaviyo.rate_budget"
    assert await one(conn, throttled) == 3
    bulk = "SELECT throttled_count FROM klaviyo.rate_budget WHERE operation = 'bulk_create_events'"
    assert await one(conn, bulk) == 3


async def test_a_refused_key_fails_nothing(conn, sandbox, make_drain) -> None:
    await insert_events(conn, 30)
    report = await drain_events(make_drain(api_key="pk_not_a_real_key_at_all_000"))
    assert report.failed == 0 and report.stopped is False
    assert await event_statuses(conn) == {"pending": 30}
    assert await one(conn, "SELECT max(attempts) FROM klaviyo.event_outbox") == 0
    assert "Klaviyo 401" in await one(conn, "SELECT max(last_error) FROM klaviyo.event_outbox")


async def test_a_batch_keeps_its_lease_while_it_waits_for_the_budget(
    conn, db_pool, sandbox, make_drain, connected
) -> None:
    # Nothing is reserved in a minute's last seconds: start clear of them.
    if time.time() % 60 > 60 - STEADY_GUARD_S - 3:
        await asyncio.sleep(60.05 - time.time() % 60)
    await insert_events(conn, 5)
    # A 429 a moment ago: the bulk endpoint is closed to every worker for 2 s.
    budget = KlaviyoRateBudget(db_pool)
    await budget.penalize(connected, "M", 2.0, operation="bulk_create_events")
    first = asyncio.create_task(
        drain_events(make_drain(budget=True, lease_s=0.8, worker="first"), parallel=1)
    )
    # Past the lease the batch was claimed with, while its worker still waits to send it.
    await asyncio.sleep(1.3)
    second = await drain_events(make_drain(budget=True, lease_s=0.8, worker="second"), parallel=1)
    report = await first
    assert (second.sent, second.requests) == (0, 0)
    assert (report.sent, report.requests) == (5, 1)
    assert await event_statuses(conn) == {"sent": 5}
    assert len(_unique_ids(sandbox)) == 5
