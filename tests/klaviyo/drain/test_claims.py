"""Claims on real PostgreSQL: disjoint batches, expired leases, lease-checked settlement."""

from __future__ import annotations

import asyncio

from app.klaviyo.drain.claims import (
    CLAIM_PENDING_EVENTS,
    CLAIM_PENDING_PROFILES,
    COMPLETE_EVENTS,
    COMPLETE_PROFILES,
    RELEASE_EVENTS,
    claim,
    new_lease_token,
    settle,
)
from app.klaviyo.outbox.producers import touch_customer
from app.store.customers import create_customer
from tests.klaviyo.drain.rows import event_statuses, insert_events, one


async def _claim(db_pool, token: str, limit: int, statement: str = CLAIM_PENDING_EVENTS):
    async with db_pool.connection() as conn:
        return await claim(conn, statement, token=token, limit=limit, lease_s=30)


async def test_concurrent_claims_never_share_a_row(db_pool, conn) -> None:
    await insert_events(conn, 300)
    batches = await asyncio.gather(*(_claim(db_pool, f"w{i}", 100) for i in range(4)))
    ids = [row["id"] for batch in batches for row in batch]
    assert len(ids) == len(set(ids)) == 300


async def test_a_leased_row_is_not_claimed_until_its_lease_expires(db_pool, conn) -> None:
    await insert_events(conn, 5)
    first = await _claim(db_pool, "dead-worker", 10)
    assert len(first) == 5
    assert await _claim(db_pool, "other", 10) == []
    await conn.execute("UPDATE klaviyo.event_outbox SET lease_expires_at = now() - interval '1s'")
    retaken = await _claim(db_pool, "other", 10)
    assert {r["id"] for r in retaken} == {r["id"] for r in first}


async def test_settling_needs_the_lease_token(db_pool, conn) -> None:
    await insert_events(conn, 3)
    token = new_lease_token("w")
    rows = await _claim(db_pool, token, 10)
    ids = [r["id"] for r in rows]
    assert await settle(conn, COMPLETE_EVENTS, ids=ids, token="someone-else") == 0
    assert await event_statuses(conn) == {"pending": 3}
    assert await settle(conn, COMPLETE_EVENTS, ids=ids, token=token) == 3
    assert await event_statuses(conn) == {"sent": 3}
    assert (
        await one(conn, "SELECT count(*) FROM klaviyo.event_outbox WHERE processed_at IS NULL") == 0
    )


async def test_released_rows_are_claimable_at_once(db_pool, conn) -> None:
    await insert_events(conn, 2)
    token = new_lease_token("w")
    rows = await _claim(db_pool, token, 10)
    await settle(conn, RELEASE_EVENTS, ids=[r["id"] for r in rows], token=token)
    assert len(await _claim(db_pool, "next", 10)) == 2


async def test_a_touch_during_the_push_keeps_the_profile_pending(db_pool, conn) -> None:
    await create_customer(conn, customer_id="c1", email="c1@example.com")
    await touch_customer(conn, "c1")
    token = new_lease_token("w")
    [row] = await _claim(db_pool, token, 10, CLAIM_PENDING_PROFILES)

    await touch_customer(conn, "c1")  # the customer changes while the push is in flight
    params = dict(
        token=token,
        ids=[row["id"]],
        seqs=[row["change_seq"]],
        profile_ids=["K1"],
        consents=[None],
        warnings=[None],
    )
    assert await settle(conn, COMPLETE_PROFILES, **params) == 1
    status, pushed, change = await one(
        conn, "SELECT status, pushed_seq, change_seq FROM klaviyo.profile_state"
    )
    assert (status, pushed) == ("pending", row["change_seq"]) and change == pushed + 1

    token = new_lease_token("w")
    [again] = await _claim(db_pool, token, 10, CLAIM_PENDING_PROFILES)
    params.update(token=token, seqs=[again["change_seq"]])
    await settle(conn, COMPLETE_PROFILES, **params)
    assert await one(conn, "SELECT status, klaviyo_profile_id FROM klaviyo.profile_state") == (
        "synced",
        "K1",
    )
