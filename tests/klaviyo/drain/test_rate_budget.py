"""The rate budget on real PostgreSQL: both windows, blocks, header feedback, sharing."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.db.pool import open_pool
from app.klaviyo.rate_budget import (
    BURST_GUARD_S,
    STEADY_GUARD_S,
    KlaviyoRateBudget,
    parse_rate_limit_headers,
)

ACCOUNT = "ACC1"


async def _at_start_of_second() -> None:
    """Let a test's requests all fall in one burst window."""
    await asyncio.sleep(1.02 - (time.time() % 1.0))


@pytest.fixture(autouse=True)
async def clear_of_the_minute_guard() -> None:
    """Nothing is reserved in a minute's last seconds (STEADY_GUARD_S); start clear of them,
    with room for a test to wait twice for the start of a second."""
    if time.time() % 60 > 60 - STEADY_GUARD_S - 2.5:
        await asyncio.sleep(60.05 - time.time() % 60)


async def test_a_second_admits_the_paced_share_then_says_how_long(db_pool) -> None:
    budget = KlaviyoRateBudget(db_pool)
    await _at_start_of_second()
    # M: half the burst of 10 (the steady pace half again, 3.75 a second, is less).
    waits = [await budget.acquire(ACCOUNT, "M") for _ in range(6)]
    assert waits[:5] == [0.0] * 5
    assert 0.0 < waits[5] <= 1.0


async def test_ready_in_says_what_a_reservation_would_wait(db_pool) -> None:
    budget = KlaviyoRateBudget(db_pool)
    await _at_start_of_second()
    for _ in range(4):
        assert await budget.acquire(ACCOUNT, "M") == 0.0
    assert await budget.ready_in(ACCOUNT, "M") == 0.0
    assert await budget.acquire(ACCOUNT, "M") == 0.0
    assert 0.0 < await budget.ready_in(ACCOUNT, "M") <= 1.0


async def test_ready_in_keeps_a_second_s_last_moments_even_before_any_request(db_pool) -> None:
    budget = KlaviyoRateBudget(db_pool)
    await asyncio.sleep((0.8 - time.time() % 1.0) % 1.0)
    assert 0.0 < await budget.ready_in(ACCOUNT, "M") <= BURST_GUARD_S


async def test_the_pace_never_exceeds_the_burst(db_pool) -> None:
    budget = KlaviyoRateBudget(db_pool)
    await _at_start_of_second()
    # S: 60 a minute paced half again is 2 a second (more than half the burst of 3); Klaviyo
    # then announces 600 a minute, whose pace of 15 a second stops at the burst.
    assert [await budget.acquire(ACCOUNT, "S") for _ in range(3)][2] > 0.0
    headers = {"RateLimit-Limit": "600, 3;w=1, 600;w=60", "RateLimit-Remaining": "590"}
    await budget.observe(ACCOUNT, "S", headers)
    await _at_start_of_second()
    waits = [await budget.acquire(ACCOUNT, "S") for _ in range(4)]
    assert waits[:3] == [0.0] * 3 and waits[3] > 0.0


async def test_steady_window_full_waits_for_the_next_minute(db_pool) -> None:
    budget = KlaviyoRateBudget(db_pool)
    assert await budget.acquire(ACCOUNT, "M", operation="bulk_create_events") == 0.0
    async with db_pool.connection() as conn:
        await conn.execute("UPDATE klaviyo.rate_budget SET minute_used = steady_limit")
    wait_s = await budget.acquire(ACCOUNT, "M", operation="bulk_create_events")
    assert 0.0 < wait_s <= 60.0 - (time.time() % 60) + 0.1
    # Another endpoint of the same tier has its own windows, as Klaviyo keeps them.
    assert await budget.acquire(ACCOUNT, "M", operation="bulk_import_profiles") == 0.0


async def test_nothing_is_reserved_when_refused(db_pool) -> None:
    budget = KlaviyoRateBudget(db_pool)
    await _at_start_of_second()
    assert await budget.acquire(ACCOUNT, "XS") == 0.0
    assert await budget.acquire(ACCOUNT, "XS") > 0.0
    async with db_pool.connection() as conn:
        cur = await conn.execute("SELECT second_used, minute_used FROM klaviyo.rate_budget")
        assert await cur.fetchone() == (1, 1)


async def test_penalize_blocks_the_tier_for_every_worker(db_pool, clean_db) -> None:
    other_process = await open_pool(clean_db, min_size=1, max_size=2)
    try:
        await KlaviyoRateBudget(db_pool).penalize(ACCOUNT, "L", 2.0, operation="x")
        wait_s = await KlaviyoRateBudget(other_process).acquire(ACCOUNT, "L", operation="x")
        assert 1.5 < wait_s <= 2.0
    finally:
        await other_process.close()


async def test_remaining_zero_blocks_until_reset(db_pool) -> None:
    budget = KlaviyoRateBudget(db_pool)
    assert await budget.acquire(ACCOUNT, "L") == 0.0
    headers = {
        "RateLimit-Limit": "750, 75;w=1, 750;w=60",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "7",
    }
    await budget.observe(ACCOUNT, "L", headers)
    assert 6.0 < await budget.acquire(ACCOUNT, "L") <= 7.0


async def test_announced_limits_replace_the_published_ones(db_pool) -> None:
    budget = KlaviyoRateBudget(db_pool)
    assert await budget.acquire(ACCOUNT, "XL") == 0.0
    await budget.observe(
        ACCOUNT,
        "XL",
        {
            "RateLimit-Limit": "20, 2;w=1, 20;w=60",
            "RateLimit-Remaining": "19",
            "RateLimit-Reset": "30",
        },
    )
    async with db_pool.connection() as conn:
        cur = await conn.execute("SELECT burst_limit, steady_limit FROM klaviyo.rate_budget")
        assert await cur.fetchone() == (2, 20)


async def test_two_processes_share_one_burst_window(db_pool, clean_db) -> None:
    pools = [db_pool, await open_pool(clean_db, min_size=4, max_size=8)]
    try:
        budgets = [KlaviyoRateBudget(p) for p in pools]
        await _at_start_of_second()
        started = time.time()
        waits = await asyncio.gather(
            *(budgets[i % 2].acquire(ACCOUNT, "M", operation="op") for i in range(40))
        )
        seconds_spanned = int(time.time()) - int(started) + 1
        granted = sum(1 for w in waits if w == 0.0)
        # 5 a second (the M pace), whichever process asked (a loaded machine may spill into
        # a second window).
        assert 5 <= granted <= 5 * seconds_spanned
    finally:
        await pools[1].close()


async def test_disabled_budget_admits_everything_without_the_database() -> None:
    budget = KlaviyoRateBudget(None, enabled=False)  # type: ignore[arg-type]
    assert [await budget.acquire(ACCOUNT, "XS") for _ in range(5)] == [0.0] * 5


def test_header_parsing() -> None:
    seen = parse_rate_limit_headers(
        {
            "ratelimit-limit": "150, 10;w=1, 150;w=60",
            "ratelimit-remaining": "12",
            "ratelimit-reset": "41",
        }
    )
    assert seen is not None
    assert (seen.burst, seen.steady, seen.remaining, seen.reset_s) == (10, 150, 12, 41)
    assert parse_rate_limit_headers({"content-type": "application/json"}) is None


async def test_cost_larger_than_the_burst_is_a_programming_error(db_pool) -> None:
    with pytest.raises(ValueError, match="does not fit tier XS"):
        await KlaviyoRateBudget(db_pool).acquire(ACCOUNT, "XS", cost=2)
