"""Periodic tasks of the catalog surfaces: catalog, category and coupon drains, and the
bulk-job poller, on the same tick, kill switches and worker resources as app/klaviyo/tasks.py.

`catalog_sync_enabled` pauses the catalog, category and poller ticks; `coupon_sync_enabled`
the coupon tick. Paused, rows keep accumulating as pending and drain on resume.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate import Blueprint, JobContext
from psycopg_pool import AsyncConnectionPool

from app.klaviyo.catalog.bulk_poller import poll_jobs
from app.klaviyo.catalog.category_drain import drain_categories
from app.klaviyo.catalog.coupon_drain import drain_coupons
from app.klaviyo.catalog.item_drain import drain_catalog
from app.klaviyo.catalog.push import CatalogDrainContext

Tick = Callable[[CatalogDrainContext], Awaitable[int]]

# (task name, kill-switch surface, tick)
CATALOG_TICKS: tuple[tuple[str, str, Tick], ...] = (
    ("drain_categories", "catalog", drain_categories),
    ("drain_catalog", "catalog", drain_catalog),
    ("poll_catalog_jobs", "catalog", poll_jobs),
    ("drain_coupons", "coupon", drain_coupons),
)


async def run_catalog_tick(
    resources: Any, pool: AsyncConnectionPool, surface: str, tick: Tick
) -> int | None:
    """One tick; None when the surface is switched off or no account is connected."""
    from app.klaviyo.tasks import open_drain

    drain = await open_drain(resources, pool, surface)
    if drain is None:
        return None
    config = resources.config
    ctx = CatalogDrainContext(
        drain,
        job_deadline_s=config.catalog_job_deadline_s,
        job_poll_s=max(0.2, config.drain_tick_s / 2),
        store_url=config.store_url,
    )
    return await tick(ctx)


def register_catalog_tasks(
    blueprint: Blueprint,
    resources: Any,
    cron: str,
    pool_of: Callable[[JobContext], AsyncConnectionPool],
) -> None:
    """Adds the catalog surfaces' periodic tasks to the module's blueprint."""
    for name, surface, tick in CATALOG_TICKS:
        _register(blueprint, resources, cron, pool_of, name, surface, tick)


def _register(
    blueprint: Blueprint,
    resources: Any,
    cron: str,
    pool_of: Callable[[JobContext], AsyncConnectionPool],
    name: str,
    surface: str,
    tick: Tick,
) -> None:
    async def run(context: JobContext, timestamp: int) -> None:
        await run_catalog_tick(resources, pool_of(context), surface, tick)

    run.__name__ = name
    run.__qualname__ = name
    # The blueprint is added under the "klaviyo" namespace; the lock names the task in full.
    task = blueprint.task(name=name, queueing_lock=f"klaviyo.{name}", pass_context=True)(run)
    blueprint.periodic(cron=cron, periodic_id=name)(task)
