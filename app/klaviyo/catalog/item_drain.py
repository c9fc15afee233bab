"""The catalog drain: claims pending variant state rows and submits their item bulk jobs.

Each variant is judged as the store holds it at push time: live and representable → create
(Klaviyo does not hold it yet) or update; unpublished, soft-deleted or gone → delete if Klaviyo
holds it; otherwise settled at once (deleted: never reached Klaviyo; skipped: no store row or
not representable, with the reason in lastError).
"""

from __future__ import annotations

from typing import Any

import structlog
from psycopg.rows import dict_row

from app.klaviyo.catalog import state_sql
from app.klaviyo.catalog.bulk_jobs import ITEMS, Entry, submit_entries
from app.klaviyo.catalog.item_payloads import (
    Unrepresentable,
    create_entry,
    delete_entry,
    item_payload,
    update_entry,
)
from app.klaviyo.catalog.push import CatalogDrainContext
from app.klaviyo.drain.claims import claim, new_lease_token, settle
from app.klaviyo.drain.context import DrainStopped

log = structlog.get_logger(__name__)

SOURCE_SQL = "SELECT * FROM klaviyo.catalog_item_source(%s)"


class Plan:
    """The claimed rows sorted by what happens to them."""

    def __init__(self) -> None:
        self.jobs: dict[str, list[Entry]] = {"delete": [], "create": [], "update": []}
        # (row, final status, reason)
        self.settled: list[tuple[dict[str, Any], str, str | None]] = []


def plan_rows(
    rows: list[dict[str, Any]], sources: dict[str, dict[str, Any]], store_url: str | None
) -> Plan:
    plan = Plan()
    for row in rows:
        variant_id = row["key"]
        source = sources.get(variant_id)
        held = row["klaviyo_id"] is not None
        if source is None or not source["live"]:
            if held:
                plan.jobs["delete"].append(Entry(row=row, body=delete_entry(variant_id)))
            elif source is None:
                plan.settled.append((row, "skipped", f"variant {variant_id} is not in the store"))
            else:
                plan.settled.append((row, "deleted", None))
            continue
        try:
            payload = item_payload(source, store_url)
        except Unrepresentable as exc:
            if held:
                plan.jobs["delete"].append(
                    Entry(row=row, body=delete_entry(variant_id), note=str(exc))
                )
            else:
                plan.settled.append((row, "skipped", str(exc)))
            continue
        body = update_entry(payload) if held else create_entry(payload)
        plan.jobs["update" if held else "create"].append(
            Entry(row=row, body=body, category_ids=payload.category_ids, note=payload.note)
        )
    return plan


async def drain_catalog(ctx: CatalogDrainContext) -> int:
    """One tick: answers how many rows it claimed."""
    token = new_lease_token(ctx.worker)
    async with ctx.pool.connection() as conn:
        rows = await claim(
            conn,
            state_sql.CLAIM_PENDING_VARIANTS,
            token=token,
            limit=ctx.batch_size,
            lease_s=ctx.lease_s,
        )
        if not rows:
            return 0
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(SOURCE_SQL, ([r["key"] for r in rows],))
            sources = {s["variant_id"]: s for s in await cur.fetchall()}

    plan = plan_rows(rows, sources, ctx.store_url)
    if plan.settled:
        async with ctx.pool.connection() as conn:
            await settle(
                conn,
                ITEMS.skip_sql,
                token=token,
                ids=[r["id"] for r, _, _ in plan.settled],
                seqs=[r["change_seq"] for r, _, _ in plan.settled],
                statuses=[s for _, s, _ in plan.settled],
                reasons=[reason for _, _, reason in plan.settled],
            )
    try:
        for operation, entries in plan.jobs.items():
            await submit_entries(ctx, ITEMS, operation, entries, token)
    except DrainStopped as stop:
        # Out of budget or the key was refused: what no job took goes back for a later tick
        # (the release is lease-checked, so rows a job holds are untouched).
        async with ctx.pool.connection() as conn:
            await settle(conn, ITEMS.release_sql, ids=[r["id"] for r in rows], token=token)
        log.info("catalog_tick_stopped", surface=ITEMS.surface, reason=type(stop).__name__)
    log.info(
        "catalog_tick",
        surface="catalog",
        batch_size=len(rows),
        settled=len(plan.settled),
        **{f"{op}s": len(e) for op, e in plan.jobs.items()},
    )
    return len(rows)
