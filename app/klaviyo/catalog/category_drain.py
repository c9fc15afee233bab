"""The category drain: claims pending category state rows and submits their bulk jobs.

A category is named by its breadcrumb ("Office Supplies > Paper") so nested categories read
well in Klaviyo. A category soft-deleted (itself or an ancestor) or gone is deleted from
Klaviyo if Klaviyo holds it.
"""

from __future__ import annotations

from typing import Any

import structlog
from psycopg.rows import dict_row

from app.klaviyo.catalog import state_sql
from app.klaviyo.catalog.bulk_jobs import CATEGORIES, Entry, submit_entries
from app.klaviyo.catalog.ids import catalog_category_id
from app.klaviyo.catalog.push import CatalogDrainContext
from app.klaviyo.drain.claims import claim, new_lease_token, settle
from app.klaviyo.drain.context import DrainStopped

log = structlog.get_logger(__name__)

SOURCE_SQL = "SELECT * FROM klaviyo.category_source(%s)"
CATEGORY_TYPE = "catalog-category"


def category_entry(row: dict[str, Any], name: str) -> Entry:
    if row["klaviyo_id"] is not None:
        body = {
            "type": CATEGORY_TYPE,
            "id": catalog_category_id(row["key"]),
            "attributes": {"name": name},
        }
    else:
        body = {"type": CATEGORY_TYPE, "attributes": {"external_id": row["key"], "name": name}}
    return Entry(row=row, body=body)


def plan_categories(
    rows: list[dict[str, Any]], sources: dict[str, dict[str, Any]]
) -> tuple[dict[str, list[Entry]], list[tuple[dict[str, Any], str, str | None]]]:
    jobs: dict[str, list[Entry]] = {"delete": [], "create": [], "update": []}
    settled: list[tuple[dict[str, Any], str, str | None]] = []
    for row in rows:
        source = sources.get(row["key"])
        held = row["klaviyo_id"] is not None
        name = (source or {}).get("breadcrumb") or ""
        if source is None or not source["live"]:
            if held:
                body = {"type": CATEGORY_TYPE, "id": catalog_category_id(row["key"])}
                jobs["delete"].append(Entry(row=row, body=body))
            elif source is None:
                settled.append((row, "skipped", f"category {row['key']} is not in the store"))
            else:
                settled.append((row, "deleted", None))
        elif not name.strip():
            settled.append((row, "skipped", f"category {row['key']} has no name"))
        else:
            jobs["update" if held else "create"].append(category_entry(row, name.strip()))
    return jobs, settled


async def drain_categories(ctx: CatalogDrainContext) -> int:
    token = new_lease_token(ctx.worker)
    async with ctx.pool.connection() as conn:
        rows = await claim(
            conn,
            state_sql.CLAIM_PENDING_CATEGORIES,
            token=token,
            limit=ctx.batch_size,
            lease_s=ctx.lease_s,
        )
        if not rows:
            return 0
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(SOURCE_SQL, ([r["key"] for r in rows],))
            sources = {s["category_id"]: s for s in await cur.fetchall()}

    jobs, settled = plan_categories(rows, sources)
    if settled:
        async with ctx.pool.connection() as conn:
            await settle(
                conn,
                CATEGORIES.skip_sql,
                token=token,
                ids=[r["id"] for r, _, _ in settled],
                seqs=[r["change_seq"] for r, _, _ in settled],
                statuses=[s for _, s, _ in settled],
                reasons=[reason for _, _, reason in settled],
            )
    try:
        for operation, entries in jobs.items():
            await submit_entries(ctx, CATEGORIES, operation, entries, token)
    except DrainStopped as stop:
        # Out of budget or the key was refused: what no job took goes back for a later tick
        # (the release is lease-checked, so rows a job holds are untouched).
        async with ctx.pool.connection() as conn:
            await settle(conn, CATEGORIES.release_sql, ids=[r["id"] for r in rows], token=token)
        log.info("catalog_tick_stopped", surface=CATEGORIES.surface, reason=type(stop).__name__)
    log.info("catalog_tick", surface="categories", batch_size=len(rows), settled=len(settled))
    return len(rows)
