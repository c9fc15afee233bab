"""A fault storm (5xx, timeouts, resets, garbled answers, 429 bursts) ends with every row sent."""

from __future__ import annotations

from collections import Counter

from app.klaviyo.drain.events import drain_events
from app.klaviyo.drain.profiles import drain_profiles
from app.store.customers import create_customer
from tests.fixtures.drain import drain_until
from tests.klaviyo.drain.rows import event_statuses, insert_events

STORM_S = 4.0


def start_storm(sandbox) -> None:
    # The first requests meet one of each asserted fault whatever the machine's speed; the
    # random storm after them lasts a wall-clock time, so how much of it a drain meets varies.
    for rule in (
        {"kind": "status", "status": 503},
        {"kind": "reset"},
        {"kind": "status", "status": 500},
        {"kind": "throttle", "retry_after_s": 1},
    ):
        sandbox.set_fault(times=1, **rule)
    for rule in (
        {"kind": "status", "status": 503, "rate": 0.2},
        {"kind": "status", "status": 500, "rate": 0.1},
        {"kind": "hang", "hang_s": 1.5, "rate": 0.1},
        {"kind": "reset", "rate": 0.1},
        {"kind": "malformed", "rate": 0.1},
        {"kind": "throttle", "retry_after_s": 1, "rate": 0.1},
    ):
        sandbox.set_fault(duration_s=STORM_S, **rule)


async def test_events_survive_the_storm(conn, sandbox, make_drain) -> None:
    await insert_events(conn, 3000)
    start_storm(sandbox)

    async def settled() -> bool:
        return (await event_statuses(conn)).get("pending", 0) == 0

    await drain_until(
        lambda: drain_events(make_drain(batch_size=200, budget=True)), settled, within_s=60
    )
    assert await event_statuses(conn) == {"sent": 3000}
    hit = sandbox.stats()["requests_per_status"]
    assert {"503", "500", "429"} <= set(hit) and hit.get("reset", 0) > 0
    sandbox.wait_jobs_done(timeout=10)
    stored = sandbox.control.get("/events", params={"limit": 10_000}).json()["data"]
    per_unique_id = Counter(e["unique_id"] for e in stored)
    assert len(per_unique_id) == 3000 and max(per_unique_id.values()) == 1


async def test_profiles_survive_the_storm(conn, sandbox, make_drain) -> None:
    for n in range(300):
        await create_customer(conn, customer_id=f"s{n}", email=f"s{n}@example.com")
    start_storm(sandbox)

    async def settled() -> bool:
        cur = await conn.execute(
            "SELECT count(*) FROM klaviyo.profile_state WHERE status <> 'synced'"
        )
        return (await cur.fetchone())[0] == 0

    # Batches of 40 go as bulk import jobs (submit, polls, errors, ids: many requests each);
    # the last ticks of 5 or fewer rows go through profile-import.
    await drain_until(
        lambda: drain_profiles(make_drain(batch_size=40, budget=True)), settled, within_s=90
    )
    cur = await conn.execute("SELECT count(*) FROM klaviyo.profile_state WHERE status = 'synced'")
    assert (await cur.fetchone())[0] == 300
    assert sandbox.stats()["profiles"] == 300
