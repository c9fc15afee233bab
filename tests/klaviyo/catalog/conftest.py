"""Fixtures of the catalog tests: a drain context pointed at the sandbox, and a driver that
runs drain and poller ticks until the surface settles."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from app.klaviyo.catalog.bulk_poller import poll_jobs
from app.klaviyo.catalog.category_drain import drain_categories
from app.klaviyo.catalog.coupon_drain import drain_coupons
from app.klaviyo.catalog.item_drain import drain_catalog
from app.klaviyo.catalog.push import CatalogDrainContext
from app.klaviyo.client import KlaviyoClient
from app.klaviyo.drain.context import DrainContext
from app.klaviyo.drain.retry import RetryPolicy
from app.klaviyo.rate_budget import KlaviyoRateBudget
from tests.fixtures.sandbox import REVISION, SandboxControl


@pytest.fixture
async def catalog_ctx(db_pool, sandbox: SandboxControl) -> AsyncIterator[CatalogDrainContext]:
    async with httpx.AsyncClient(timeout=5) as http:
        drain = DrainContext(
            pool=db_pool,
            klaviyo=KlaviyoClient(sandbox.base_url, sandbox.api_key, REVISION, http),
            budget=KlaviyoRateBudget(db_pool, enabled=False),
            account_id=sandbox.account_id,
            policy=RetryPolicy(max_attempts=3, base_s=0.0, cap_s=0.0),
            worker="test",
            batch_size=1000,
            lease_s=30.0,
            deadline=time.monotonic() + 3600,
        )
        yield CatalogDrainContext(
            drain, job_deadline_s=5.0, job_poll_s=0.02, store_url="https://shop.example.com"
        )


Tick = Callable[[CatalogDrainContext], Awaitable[int]]


async def run_until_settled(ctx: CatalogDrainContext, *drains: Tick, limit_s: float = 15.0) -> None:
    """Tick the drains and the poller until nothing is pending, submitted or in flight."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        for drain in drains:
            await drain(ctx)
        await poll_jobs(ctx)
        async with ctx.pool.connection() as conn:
            cur = await conn.execute(
                """
                SELECT (SELECT count(*) FROM klaviyo.catalog_state
                        WHERE status IN ('pending', 'submitted'))
                     + (SELECT count(*) FROM klaviyo.category_state WHERE status = 'pending')
                     + (SELECT count(*) FROM klaviyo.coupon_state WHERE status = 'pending')
                     + (SELECT count(*) FROM klaviyo.catalog_bulk_jobs
                        WHERE status = 'in_progress')
                """
            )
            (left,) = await cur.fetchone()
        if left == 0:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{left} rows or jobs still unsettled after {limit_s}s")
        await asyncio.sleep(0.03)


ALL_DRAINS = (drain_categories, drain_catalog, drain_coupons)


@pytest.fixture
def settle_all(catalog_ctx):
    async def run(limit_s: float = 15.0) -> None:
        await run_until_settled(catalog_ctx, *ALL_DRAINS, limit_s=limit_s)

    return run
