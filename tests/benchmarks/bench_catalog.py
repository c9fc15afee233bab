"""Catalog benchmark: bootstrap of 100,000 variants, then the whole catalog synced to the sandbox.

Run: .venv/bin/python tests/benchmarks/bench_catalog.py [--variants 100000] [--limited 10000]
Works on a throwaway database of the embedded server (or of DATABASE_URL's server) and a
sandbox subprocess. Prints readable lines, then one JSON line with every figure. Bounded: the
sync phases give up after their time limits (the whole run stays under about 3 minutes).

1. enqueue: `klaviyo.bootstrap_catalog()` over the seeded variants (target ≤ 5 s), run twice.
2. sync, limits off: categories first, then every variant through item bulk jobs and the
   poller until all are synced (target ≤ 60 s).
3. sync, Klaviyo's limits on (L tier for catalog bulk jobs): `--limited` variants again into an
   emptied sandbox with the shared rate budget on; the share of 429s (target ≤ 1 %).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.db.migrate import migrate  # noqa: E402
from app.db.pool import open_pool  # noqa: E402
from app.klaviyo.catalog.bulk_poller import poll_jobs  # noqa: E402
from app.klaviyo.catalog.category_drain import drain_categories  # noqa: E402
from app.klaviyo.catalog.item_drain import drain_catalog  # noqa: E402
from app.klaviyo.catalog.push import CatalogDrainContext  # noqa: E402
from app.klaviyo.client import KlaviyoClient  # noqa: E402
from app.klaviyo.drain.context import DrainContext  # noqa: E402
from app.klaviyo.drain.retry import RetryPolicy  # noqa: E402
from app.klaviyo.outbox.module_switch import apply_module_config_sync  # noqa: E402
from app.klaviyo.rate_budget import KlaviyoRateBudget  # noqa: E402
from app.logs import configure_logging  # noqa: E402
from tests.benchmarks.bench_outbox import bench_database  # noqa: E402
from tests.fixtures.sandbox import REVISION, SandboxControl, start_sandbox, stop_sandbox  # noqa: E402

ENQUEUE_TARGET_S = 5.0
SYNC_TARGET_S = 60.0
SYNC_LIMIT_S = 100.0
LIMITED_LIMIT_S = 45.0
VARIANTS_PER_PRODUCT = 5
CATEGORIES = 200
# Two drains claim disjoint batches (SKIP LOCKED), as two worker ticks would.
PARALLEL_DRAINS = 2


def seed(url: str, variants: int) -> None:
    """Categories, products and variants written with the module off (no listener work)."""
    products = max(1, variants // VARIANTS_PER_PRODUCT)
    with psycopg.connect(url, autocommit=True) as conn:
        apply_module_config_sync(conn, enabled=False, backfill_age_s=86400)
        conn.execute(
            "INSERT INTO core.categories (id, name, slug) "
            "SELECT 'c' || n, 'Category ' || n, 'cat-' || n FROM generate_series(1, %s) n",
            (CATEGORIES,),
        )
        conn.execute(
            "INSERT INTO core.products (id, title, description, url, brand, image_url) "
            "SELECT 'p' || n, 'Product ' || n, 'Description of product ' || n, "
            "'https://shop.example/p/' || n, 'Bench', 'https://img.example/p/' || n || '.jpg' "
            "FROM generate_series(1, %s) n",
            (products,),
        )
        conn.execute(
            "INSERT INTO core.product_categories "
            "SELECT 'p' || n, 'c' || (n %% %s + 1) FROM generate_series(1, %s) n",
            (CATEGORIES, products),
        )
        conn.execute(
            "INSERT INTO core.variants "
            "(id, product_id, sku, title, price_minor, currency, inventory_quantity) "
            "SELECT 'v' || n, 'p' || ((n - 1) / %s + 1), 'SKU-' || n, 'Size ' || (n %% %s), "
            "       1000 + n %% 5000, 'USD', n %% 40 FROM generate_series(1, %s) n",
            (VARIANTS_PER_PRODUCT, VARIANTS_PER_PRODUCT, variants),
        )
        conn.execute("ANALYZE")
        apply_module_config_sync(conn, enabled=True, backfill_age_s=86400)


def bench_enqueue(url: str) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        (count,) = conn.execute("SELECT klaviyo.bootstrap_catalog()").fetchone()
        first = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("SELECT klaviyo.bootstrap_catalog()")
        again = time.perf_counter() - started
        (rows,) = conn.execute("SELECT count(*) FROM klaviyo.catalog_state").fetchone()
        conn.execute("SELECT klaviyo.bootstrap_categories()")
    return {
        "enqueued": count,
        "state_rows_after_two_bootstraps": rows,
        "enqueue_first_s": round(first, 2),
        "enqueue_again_s": round(again, 2),
    }


async def counts(pool) -> dict[str, int]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT status, count(*) FROM klaviyo.catalog_state GROUP BY 1")
        return {status: n for status, n in await cur.fetchall()}


async def sync_all(ctx: CatalogDrainContext, limit_s: float) -> tuple[float, dict[str, int]]:
    """Categories, then items with the poller, until no row is pending or submitted."""
    started = time.perf_counter()
    while await drain_categories(ctx) or await _jobs_open(ctx):
        await poll_jobs(ctx)
        await asyncio.sleep(0.02)

    async def drain_loop() -> None:
        while time.perf_counter() - started < limit_s:
            if not await drain_catalog(ctx):
                await asyncio.sleep(0.05)
            state = await counts(ctx.pool)
            if not state.get("pending") and not state.get("submitted"):
                return

    async def poll_loop() -> None:
        while time.perf_counter() - started < limit_s:
            if not await poll_jobs(ctx):
                await asyncio.sleep(0.02)
            state = await counts(ctx.pool)
            if not state.get("pending") and not state.get("submitted"):
                return

    await asyncio.gather(*(drain_loop() for _ in range(PARALLEL_DRAINS)), poll_loop())
    return time.perf_counter() - started, await counts(ctx.pool)


async def _jobs_open(ctx: CatalogDrainContext) -> bool:
    async with ctx.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM klaviyo.catalog_bulk_jobs WHERE status = 'in_progress'"
        )
        return (await cur.fetchone())[0] > 0


def context(pool, http, sandbox: SandboxControl, *, budget: bool) -> CatalogDrainContext:
    drain = DrainContext(
        pool=pool,
        klaviyo=KlaviyoClient(sandbox.base_url, sandbox.api_key, REVISION, http),
        budget=KlaviyoRateBudget(pool, enabled=budget),
        account_id=sandbox.account_id,
        policy=RetryPolicy(max_attempts=8, base_s=0.5, cap_s=5.0),
        worker="bench",
        batch_size=1000,
        lease_s=120.0,
        deadline=time.monotonic() + 3600,
    )
    return CatalogDrainContext(drain, job_deadline_s=60.0, job_poll_s=0.1)


async def bench_sync(url: str, sandbox: SandboxControl, limited: int) -> dict[str, object]:
    figures: dict[str, object] = {}
    pool = await open_pool(url, min_size=2, max_size=8)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            ctx = context(pool, http, sandbox, budget=False)
            elapsed, state = await sync_all(ctx, SYNC_LIMIT_S)
            stats = sandbox.stats()
            figures |= {
                "sync_limits_off_s": round(elapsed, 1),
                "sync_limits_off_states": state,
                "sandbox_catalog_items": stats.get("catalog_items"),
                "sync_limits_off_requests": stats["requests_per_status"],
            }
            print(
                f"sync with limits off: {elapsed:.1f} s (target ≤ {SYNC_TARGET_S} s), "
                f"states {state}, sandbox holds {stats.get('catalog_items')} items",
                flush=True,
            )

            if limited:
                sandbox.reset(rate_limits="klaviyo")
                async with pool.connection() as conn:
                    # Items alone this time: the emptied sandbox has no categories to link to.
                    await conn.execute(
                        "UPDATE klaviyo.category_state SET klaviyo_category_id = NULL, "
                        "status = 'skipped'"
                    )
                    await conn.execute("UPDATE klaviyo.catalog_state SET status = 'skipped'")
                    await conn.execute(
                        "UPDATE klaviyo.catalog_state SET klaviyo_catalog_item_id = NULL, "
                        "status = 'pending', next_attempt_at = now() "
                        "WHERE variant_id IN (SELECT 'v' || n FROM generate_series(1, %s) n)",
                        (limited,),
                    )
                ctx = context(pool, http, sandbox, budget=True)
                elapsed, state = await sync_all(ctx, LIMITED_LIMIT_S)
                per_status = sandbox.stats()["requests_per_status"]
                total = sum(per_status.values())
                throttled = per_status.get("429", 0)
                share = throttled / total if total else 0.0
                figures |= {
                    "limited_variants": limited,
                    "sync_limits_on_s": round(elapsed, 1),
                    "sync_limits_on_states": state,
                    "limits_on_requests": total,
                    "limits_on_429s": throttled,
                    "limits_on_429_share": round(share, 4),
                    "limits_on_requests_per_s": round(total / elapsed, 1) if elapsed else None,
                }
                print(
                    f"sync of {limited:,} variants with Klaviyo's limits: {elapsed:.1f} s, "
                    f"{total} requests ({total / elapsed:.1f}/s), {throttled} 429s "
                    f"({share:.2%}; target ≤ 1 %), states {state}",
                    flush=True,
                )
    finally:
        await pool.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--limited", type=int, default=10_000)
    args = parser.parse_args()
    configure_logging("console", "warning")

    admin, url, server, started = bench_database()
    server_proc = None
    figures: dict[str, object] = {"variants": args.variants}
    try:
        migrate(url)
        seed(url, args.variants)
        figures |= bench_enqueue(url)
        print(
            f"bootstrap of {args.variants:,} variants: enqueued {figures['enqueued']:,} in "
            f"{figures['enqueue_first_s']} s (target ≤ {ENQUEUE_TARGET_S} s), again "
            f"{figures['enqueue_again_s']} s, {figures['state_rows_after_two_bootstraps']:,} "
            "state rows after both",
            flush=True,
        )
        server_proc = start_sandbox({"SANDBOX_RECORD_REQUESTS": "0"})
        sandbox = SandboxControl(server_proc.base_url, server_proc.api_key)
        figures |= asyncio.run(bench_sync(url, sandbox, args.limited))
    finally:
        if server_proc is not None:
            stop_sandbox(server_proc)
        with psycopg.connect(admin, autocommit=True) as conn:
            name = conninfo_to_dict(url)["dbname"]
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if server is not None and started:
            server.stop()
    figures["enqueue_within_target"] = figures["enqueue_first_s"] <= ENQUEUE_TARGET_S
    if "sync_limits_off_s" in figures:
        figures["sync_within_target"] = figures["sync_limits_off_s"] <= SYNC_TARGET_S
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
