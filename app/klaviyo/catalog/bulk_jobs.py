"""Catalog bulk jobs: submitting up to 100 rows per job and recording the job for the poller.

Klaviyo takes catalog items and categories through create/update/delete jobs (at most 100
entries each, at most 500 jobs in progress per account). A job accepted by Klaviyo is written
to klaviyo.catalog_bulk_jobs together with its rows, in one transaction; the rows stay leased
by the job until app/klaviyo/catalog/bulk_poller.py settles them from the job's outcome.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import structlog

from app.klaviyo.catalog import state_sql
from app.klaviyo.catalog.push import CatalogDrainContext, send
from app.klaviyo.drain.claims import settle, settle_retries
from app.klaviyo.drain.retry import PushFailure, describe

log = structlog.get_logger(__name__)

MAX_ENTRIES_PER_JOB = 100
MAX_JOBS_IN_PROGRESS = 500
# Rows stay held by their job a little past its deadline, so the poller times the job out
# before any drain could retake them.
HOLD_MARGIN_S = 120.0
CATEGORY_SEPARATOR = "\x1f"


class BulkResource(msgspec.Struct, frozen=True, kw_only=True):
    """What differs between catalog items and categories in the bulk job machinery."""

    name: str  # "item" | "category": the ledger's `resource`
    surface: str  # "catalog" | "categories": log and lastError wording
    job_prefix: str  # "catalog-item": job types are "<prefix>-bulk-<operation>-job"
    plural: str  # "items": the job attribute holding the entries
    submit_sql: str
    confirm_sql: str
    switch_sql: str
    retry_sql: str
    skip_sql: str
    release_sql: str

    def job_type(self, operation: str) -> str:
        return f"{self.job_prefix}-bulk-{operation}-job"

    def job_path(self, operation: str) -> str:
        return f"/api/{self.job_type(operation)}s"

    def submit_operation(self, operation: str) -> str:
        return f"bulk_{operation}_catalog_{self.plural}"

    def poll_tier(self, operation: str) -> str:
        # Klaviyo's published tiers: item create/update job reads are L, the rest XL.
        return "L" if self.name == "item" and operation != "delete" else "XL"

    def entry_pointer(self) -> re.Pattern[str]:
        return re.compile(rf"^/data/attributes/{self.plural}/data/(\d+)(/.*)?$")


ITEMS = BulkResource(
    name="item",
    surface="catalog",
    job_prefix="catalog-item",
    plural="items",
    submit_sql=state_sql.SUBMIT_VARIANTS,
    confirm_sql=state_sql.CONFIRM_VARIANTS,
    switch_sql=state_sql.SWITCH_VARIANTS,
    retry_sql=state_sql.RETRY_VARIANTS,
    skip_sql=state_sql.SKIP_VARIANTS,
    release_sql=state_sql.RELEASE_VARIANTS,
)

CATEGORIES = BulkResource(
    name="category",
    surface="categories",
    job_prefix="catalog-category",
    plural="categories",
    submit_sql=state_sql.SUBMIT_CATEGORIES,
    confirm_sql=state_sql.CONFIRM_CATEGORIES,
    switch_sql=state_sql.SWITCH_CATEGORIES,
    retry_sql=state_sql.RETRY_CATEGORIES,
    skip_sql=state_sql.SKIP_CATEGORIES,
    release_sql=state_sql.RELEASE_CATEGORIES,
)


class Entry(msgspec.Struct, kw_only=True):
    """One claimed row and the entry it contributes to a job."""

    row: dict[str, Any]
    body: dict[str, Any]
    category_ids: tuple[str, ...] = ()
    note: str | None = None


def job_token(ledger_id: uuid.UUID) -> str:
    return f"job:{ledger_id}"


def entry_index(resource: BulkResource, pointer: str | None) -> tuple[int, str] | None:
    """(entry index, rest of the pointer) for `/data/attributes/<plural>/data/<i>/...`."""
    match = resource.entry_pointer().match(pointer or "")
    if match is None:
        return None
    return int(match.group(1)), match.group(2) or ""


async def jobs_in_progress(ctx: CatalogDrainContext) -> int:
    async with ctx.pool.connection() as conn:
        cur = await conn.execute(state_sql.JOBS_IN_PROGRESS)
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def submit_entries(
    ctx: CatalogDrainContext,
    resource: BulkResource,
    operation: str,
    entries: Sequence[Entry],
    token: str,
) -> int:
    """Submit `entries` in jobs of at most 100; answers how many jobs Klaviyo accepted. Rows
    over the in-progress cap are released for a later tick."""
    accepted = 0
    in_progress = await jobs_in_progress(ctx) if entries else 0
    for start in range(0, len(entries), MAX_ENTRIES_PER_JOB):
        chunk = list(entries[start : start + MAX_ENTRIES_PER_JOB])
        if in_progress >= MAX_JOBS_IN_PROGRESS:
            rest = [e.row["id"] for e in entries[start:]]
            async with ctx.pool.connection() as conn:
                await settle(conn, resource.release_sql, ids=rest, token=token)
            log.info("catalog_jobs_at_cap", surface=resource.surface, released=len(rest))
            break
        if await _submit_job(ctx, resource, operation, chunk, token):
            accepted += 1
            in_progress += 1
    return accepted


async def _submit_job(
    ctx: CatalogDrainContext,
    resource: BulkResource,
    operation: str,
    chunk: list[Entry],
    token: str,
) -> bool:
    """POST one job; a 4xx naming one entry fails that row alone and resends the rest."""
    while chunk:
        body = {
            "data": {
                "type": resource.job_type(operation),
                "attributes": {resource.plural: {"data": [e.body for e in chunk]}},
            }
        }
        result = await send(
            ctx,
            "POST",
            resource.job_path(operation),
            tier="L",
            operation=resource.submit_operation(operation),
            json=body,
        )
        if not isinstance(result, PushFailure):
            await _record_job(ctx, resource, operation, chunk, token, result["data"]["id"])
            return True

        located = entry_index(resource, result.pointer) if not result.retryable else None
        if located is None or located[0] >= len(chunk):
            await fail_entries(ctx, resource, chunk, result, token)
            return False
        bad = chunk.pop(located[0])
        await fail_entries(ctx, resource, [bad], result, token)
    return False


async def _record_job(
    ctx: CatalogDrainContext,
    resource: BulkResource,
    operation: str,
    chunk: list[Entry],
    token: str,
    klaviyo_job_id: str,
) -> None:
    ledger_id = uuid.uuid4()
    hold_until = datetime.now(UTC) + timedelta(seconds=ctx.job_deadline_s + HOLD_MARGIN_S)
    async with ctx.pool.connection() as conn, conn.transaction():
        await conn.execute(
            state_sql.RECORD_JOB,
            {
                "id": ledger_id,
                "klaviyo_job_id": klaviyo_job_id,
                "resource": resource.name,
                "operation": operation,
                "row_ids": [e.row["id"] for e in chunk],
                "deadline_s": ctx.job_deadline_s,
                "poll_s": ctx.job_poll_s,
            },
        )
        await settle(
            conn,
            resource.submit_sql,
            operation=operation,
            job_id=ledger_id,
            job_token=job_token(ledger_id),
            hold_until=hold_until,
            token=token,
            ids=[e.row["id"] for e in chunk],
            seqs=[e.row["change_seq"] for e in chunk],
            categories=[CATEGORY_SEPARATOR.join(e.category_ids) for e in chunk],
            notes=[e.note for e in chunk],
        )
    log.info(
        "catalog_job_submitted",
        surface=resource.surface,
        operation=operation,
        batch_size=len(chunk),
        klaviyo_job_id=klaviyo_job_id,
    )


async def fail_entries(
    ctx: CatalogDrainContext,
    resource: BulkResource,
    entries: Sequence[Entry],
    failure: PushFailure,
    token: str,
) -> None:
    """Retry or fail rows by the retry policy (4xx: failed at once; 429/5xx: backoff)."""
    decisions = [
        ctx.policy.decide(
            e.row["id"],
            e.row["attempts"],
            failure,
            describe(resource.surface, e.row["key"], failure),
        )
        for e in entries
    ]
    async with ctx.pool.connection() as conn:
        await settle_retries(conn, resource.retry_sql, token, decisions)
    log.info(
        "catalog_rows_not_pushed",
        surface=resource.surface,
        batch_size=len(entries),
        klaviyo_status=failure.status,
        retryable=failure.retryable,
    )
