"""The bulk-job poller: reads each catalog job in flight and settles its rows from the outcome.

Complete: rows without a per-item error are synced (or deleted); a create answered "already
exists" or an update answered "not found" switches operation for the next tick; a link to a
category Klaviyo does not hold fails the row and queues the category again (its arrival touches
the item back). A job still running at its deadline is timed out and its rows retried, and so
is a job that ended any other way than `complete` (cancelled): Klaviyo processed none of it.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import structlog
from psycopg.rows import dict_row

from app.klaviyo.catalog import state_sql
from app.klaviyo.catalog.bulk_jobs import CATEGORIES, ITEMS, BulkResource, entry_index, job_token
from app.klaviyo.catalog.ids import catalog_category_id, catalog_item_id
from app.klaviyo.catalog.push import CatalogDrainContext, send
from app.klaviyo.drain.claims import new_lease_token, settle, settle_retries
from app.klaviyo.drain.context import DrainStopped
from app.klaviyo.drain.retry import PushFailure, describe

log = structlog.get_logger(__name__)

RESOURCES = {ITEMS.name: ITEMS, CATEGORIES.name: CATEGORIES}
# Klaviyo's job statuses: queued | processing | complete | cancelled. Only `complete` settles
# rows from the job's outcome; a job still running is polled again; anything else is retried.
COMPLETE = "complete"
RUNNING = ("queued", "processing")
JOBS_PER_TICK = 100


def klaviyo_id_of(resource: BulkResource, key: str) -> str:
    return catalog_item_id(key) if resource is ITEMS else catalog_category_id(key)


def is_conflict(error: dict[str, Any]) -> bool:
    code = str(error.get("code") or "").lower()
    return code in ("conflict", "duplicate", "already_exists") or "already exists" in str(
        error.get("detail") or ""
    )


def is_not_found(error: dict[str, Any]) -> bool:
    code = str(error.get("code") or "").lower()
    detail = str(error.get("detail") or "").lower()
    return code in ("not_found", "not_found_error") or "does not exist" in detail


async def poll_jobs(ctx: CatalogDrainContext) -> int:
    """One poller tick; answers how many jobs it settled."""
    token = new_lease_token(ctx.worker)
    async with ctx.pool.connection() as conn:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(
                state_sql.CLAIM_DUE_JOBS,
                {"token": token, "limit": JOBS_PER_TICK, "lease_s": ctx.lease_s},
            )
            jobs = await cur.fetchall()
    settled = 0
    try:
        for job in jobs:
            settled += await _poll_one(ctx, job, token)
    except DrainStopped as stop:
        # The jobs left come back when their poll lease ends.
        log.info("catalog_poll_stopped", reason=type(stop).__name__)
    return settled


async def _poll_one(ctx: CatalogDrainContext, job: dict[str, Any], token: str) -> int:
    resource = RESOURCES[job["resource"]]
    operation = job["operation"]
    result = await send(
        ctx,
        "GET",
        f"{resource.job_path(operation)}/{job['klaviyo_job_id']}",
        tier=resource.poll_tier(operation),
        operation=f"get_bulk_{operation}_catalog_{resource.plural}_job",
    )
    if isinstance(result, PushFailure):
        # Klaviyo no longer knows the job: nothing will ever settle it but a retry.
        if result.status == 404 or job["overdue"]:
            await _time_out(ctx, resource, job, token, f"job read failed: {result.detail}")
            return 1
        await _poll_later(ctx, job, token, result.detail)
        return 0

    data = result["data"]
    status = data["attributes"].get("status")
    if status == COMPLETE:
        await _settle_complete(ctx, resource, job, token, data)
        return 1
    if status not in RUNNING:
        await _time_out(ctx, resource, job, token, f"ended {status}", ended="cancelled")
        return 1
    if job["overdue"]:
        await _time_out(ctx, resource, job, token, f"still {status} at its deadline")
        return 1
    await _poll_later(ctx, job, token, None)
    return 0


async def _poll_later(
    ctx: CatalogDrainContext, job: dict[str, Any], token: str, error: str | None
) -> None:
    async with ctx.pool.connection() as conn:
        await settle(
            conn,
            state_sql.POLL_LATER,
            id=job["id"],
            token=token,
            poll_s=ctx.job_poll_s,
            error=error,
        )


async def _job_rows(
    ctx: CatalogDrainContext, resource: BulkResource, job: dict[str, Any]
) -> dict[uuid.UUID, dict[str, Any]]:
    async with ctx.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            state_sql.JOB_ROWS[resource.name],
            {"ids": job["row_ids"], "token": job_token(job["id"])},
        )
        return {row["id"]: row for row in await cur.fetchall()}


async def _time_out(
    ctx: CatalogDrainContext,
    resource: BulkResource,
    job: dict[str, Any],
    token: str,
    why: str,
    *,
    ended: str = "timed_out",
) -> None:
    """Give the job up and retry its rows: at its deadline (`timed_out`), or because Klaviyo
    ended it without processing it (`cancelled`)."""
    rows = await _job_rows(ctx, resource, job)
    failure = PushFailure(
        kind="transient",
        code="bulk_job_timeout" if ended == "timed_out" else f"bulk_job_{ended}",
        detail=f"bulk job {job['klaviyo_job_id']} {why}; retrying",
    )
    decisions = [
        ctx.policy.decide(
            r["id"], r["attempts"], failure, describe(resource.surface, r["key"], failure)
        )
        for r in rows.values()
    ]
    async with ctx.pool.connection() as conn, conn.transaction():
        await settle_retries(conn, resource.retry_sql, job_token(job["id"]), decisions)
        await settle(
            conn,
            state_sql.SETTLE_JOB,
            id=job["id"],
            token=token,
            status=ended,
            failed_count=None,
            error=why,
        )
    log.warning(
        f"catalog_job_{ended}",
        surface=resource.surface,
        klaviyo_job_id=job["klaviyo_job_id"],
        batch_size=len(rows),
        reason=why,
    )


async def _settle_complete(
    ctx: CatalogDrainContext,
    resource: BulkResource,
    job: dict[str, Any],
    token: str,
    data: dict[str, Any],
) -> None:
    rows = await _job_rows(ctx, resource, job)
    order: list[uuid.UUID] = list(job["row_ids"])
    operation = job["operation"]
    errors = data["attributes"].get("errors") or []
    by_index: dict[int, tuple[dict[str, Any], str]] = {}
    unplaced = []
    for error in errors:
        located = entry_index(resource, (error.get("source") or {}).get("pointer"))
        if located is None or located[0] >= len(order):
            unplaced.append(error)
        else:
            by_index.setdefault(located[0], (error, located[1]))
    # An error naming no entry leaves only Klaviyo's list of results to tell who succeeded.
    confirmed_ids = {
        ref.get("id")
        for ref in ((data.get("relationships") or {}).get(resource.plural) or {}).get("data") or []
    }

    confirm: list[tuple[uuid.UUID, str, str | None]] = []
    switch: list[tuple[uuid.UUID, str | None, str]] = []
    retry, forget = [], set()
    for index, row_id in enumerate(order):
        row = rows.get(row_id)
        if row is None:
            continue  # retaken after its hold expired: no longer this job's to settle
        klaviyo_id = klaviyo_id_of(resource, row["key"])
        found = by_index.get(index)
        if found is None:
            if unplaced and klaviyo_id not in confirmed_ids:
                retry.append(_decide(ctx, resource, row, unplaced[0], "transient"))
            elif operation == "delete":
                confirm.append((row_id, "deleted", None))
            else:
                confirm.append((row_id, "synced", klaviyo_id))
            continue
        error, rest = found
        if "/relationships/" in rest:
            retry.append(_decide(ctx, resource, row, error, "rejected"))
            forget.update(_missing_categories(row, rest))
        elif operation == "create" and is_conflict(error):
            switch.append((row_id, klaviyo_id, "already in Klaviyo; sending as an update"))
        elif operation == "update" and is_not_found(error):
            switch.append((row_id, None, "not in Klaviyo; sending as a create"))
        elif operation == "delete" and is_not_found(error):
            confirm.append((row_id, "deleted", None))
        else:
            retry.append(_decide(ctx, resource, row, error, "rejected"))

    # Categories Klaviyo holds for the first time: their items can link to them now.
    newly_held = [
        rows[c[0]]["key"] for c in confirm if c[2] is not None and rows[c[0]]["klaviyo_id"] is None
    ]
    outcome = Outcome(confirm, switch, retry, forget, newly_held if resource is CATEGORIES else [])
    await _write_outcome(ctx, resource, job, token, outcome, len(errors))


def _decide(
    ctx: CatalogDrainContext,
    resource: BulkResource,
    row: dict[str, Any],
    error: dict[str, Any],
    kind: str,
):
    failure = PushFailure(
        kind=kind,  # type: ignore[arg-type]
        code=error.get("code"),
        detail=error.get("detail"),
        pointer=(error.get("source") or {}).get("pointer"),
    )
    return ctx.policy.decide(
        row["id"], row["attempts"], failure, describe(resource.surface, row["key"], failure)
    )


def _missing_categories(row: dict[str, Any], rest: str) -> list[str]:
    """The category ids named by `/relationships/categories/data/<j>/...` of an item."""
    parts = rest.split("/")
    try:
        j = int(parts[parts.index("data") + 1])
        return [row["pushed_category_ids"][j]]
    except (ValueError, IndexError, KeyError, TypeError):
        return list(row.get("pushed_category_ids") or [])


class Outcome(NamedTuple):
    confirm: list[tuple[uuid.UUID, str, str | None]]
    switch: list[tuple[uuid.UUID, str | None, str]]
    retry: list[Any]
    forget: set[str]
    newly_held_categories: list[str]


async def _write_outcome(
    ctx: CatalogDrainContext,
    resource: BulkResource,
    job: dict[str, Any],
    token: str,
    outcome: Outcome,
    error_count: int,
) -> None:
    row_token = job_token(job["id"])
    confirm, switch = outcome.confirm, outcome.switch
    async with ctx.pool.connection() as conn, conn.transaction():
        if confirm:
            await settle(
                conn,
                resource.confirm_sql,
                token=row_token,
                ids=[c[0] for c in confirm],
                statuses=[c[1] for c in confirm],
                klaviyo_ids=[c[2] for c in confirm],
                notes=[None for _ in confirm],
            )
        if switch:
            await settle(
                conn,
                resource.switch_sql,
                token=row_token,
                max_attempts=ctx.policy.max_attempts,
                ids=[s[0] for s in switch],
                klaviyo_ids=[s[1] for s in switch],
                notes=[s[2] for s in switch],
            )
        await settle_retries(conn, resource.retry_sql, row_token, outcome.retry)
        if outcome.forget:
            await conn.execute(state_sql.FORGET_CATEGORIES, {"ids": sorted(outcome.forget)})
        if outcome.newly_held_categories:
            await conn.execute(
                "SELECT klaviyo.touch_items_of_categories(%s)", (outcome.newly_held_categories,)
            )
        await settle(
            conn,
            state_sql.SETTLE_JOB,
            id=job["id"],
            token=token,
            status="complete",
            failed_count=error_count,
            error=None,
        )
    log.info(
        "catalog_job_settled",
        surface=resource.surface,
        operation=job["operation"],
        klaviyo_job_id=job["klaviyo_job_id"],
        synced=len(confirm),
        switched=len(switch),
        failed=len(outcome.retry),
    )
