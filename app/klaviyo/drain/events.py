"""The event drain: claimed outbox rows go to Klaviyo in bulk jobs of up to 1000 events.

A backlog never costs one HTTP call per row: every claimed batch goes out as
`POST /api/event-bulk-create-jobs`; only a lone pending event uses `POST /api/events`. Each event
carries its row's unique_id (the idempotency key unless the producer set one), the same on every
retry, so a re-send after a lost answer or a killed worker is a duplicate Klaviyo drops.
When Klaviyo rejects a batch for one row (400 with a pointer into the body), that row fails
alone with a readable last_error and the rest is sent again. A batch keeps its lease while it
is pushed (renewed every half lease): rate budget waits and the search for a bad row can
outlast one lease, and a lapsed lease would hand the rows to another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import psycopg
import structlog

from app.klaviyo.drain.claims import (
    CLAIM_PENDING_EVENTS,
    COMPLETE_EVENTS,
    RELEASE_EVENTS,
    RENEW_EVENT_LEASE,
    RETRY_EVENTS,
    RetryDecision,
    claim,
    new_lease_token,
    settle,
    settle_retries,
)
from app.klaviyo.drain.context import (
    BULK_CREATE_EVENTS,
    CREATE_EVENT,
    AccountRefused,
    DrainContext,
    DrainStopped,
)
from app.klaviyo.drain.retry import PushFailure, describe
from app.klaviyo.payloads.events import event_create_body, events_bulk_create_job
from app.klaviyo.payloads.money import UnknownCurrency

log = structlog.get_logger(__name__)

SURFACE = "events"
MAX_EVENTS_PER_JOB = 1000
# A refused API key is retried this much later (the operator reconnects; nothing fails).
ACCOUNT_REFUSED_PAUSE_S = 60.0
# Klaviyo refuses bodies over 5 MB; a batch whose body would be larger is split in halves.
MAX_BODY_BYTES = 5 * 1024 * 1024 - 64 * 1024
_EVENT_POINTER = re.compile(
    r"^/data/attributes/events-bulk-create/data/(\d+)(?:/attributes/events/data/(\d+))?"
)


class EventDrainReport(msgspec.Struct, kw_only=True):
    sent: int = 0
    failed: int = 0
    retried: int = 0
    requests: int = 0
    throttled: int = 0
    stopped: bool = False


class _Batch:
    """One claimed batch on its way out, and what became of each row."""

    def __init__(self, ctx: DrainContext, token: str, rows: list[dict[str, Any]]) -> None:
        self.ctx = ctx
        self.token = token
        self.rows = rows
        self.report = EventDrainReport()

    async def push(self) -> EventDrainReport:
        groups = deque(_distinct_unique_ids(self.rows))
        keeper = asyncio.create_task(self._keep_lease())
        try:
            while groups:
                group = groups.popleft()
                groups.extendleft(reversed(await self._send(group)))
        except DrainStopped:
            await self._release([r for g in [group, *groups] for r in g])
            self.report.stopped = True
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        return self.report

    async def _keep_lease(self) -> None:
        """Renew the lease of the batch's rows every half lease until the push ends. Rows
        already settled hold no lease and are left alone; a renewal that fails is tried again
        at the next half lease."""
        ids = [r["id"] for r in self.rows]
        while True:
            await asyncio.sleep(self.ctx.lease_s / 2)
            try:
                async with self.ctx.pool.connection() as conn:
                    await settle(
                        conn, RENEW_EVENT_LEASE, ids=ids, token=self.token, lease_s=self.ctx.lease_s
                    )
            except psycopg.Error as exc:  # the pool's timeout too
                log.warning("drain_lease_renewal_failed", surface=SURFACE, error=type(exc).__name__)

    async def _send(self, group: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Send one group; answers the groups still to send (what is left after isolating a
        bad row, or two halves)."""
        try:
            if len(group) == 1:
                body: Any = event_create_body(group[0])
                positions = [[0]]
                endpoint = CREATE_EVENT
            else:
                body, positions = events_bulk_create_job(group)
                endpoint = BULK_CREATE_EVENTS
        except (ValueError, UnknownCurrency) as exc:
            return await self._drop_unbuildable(group, exc)
        if len(group) > 1 and len(msgspec.json.encode(body)) > MAX_BODY_BYTES:
            return _halves(group)

        answer = await self.ctx.send(endpoint, body=body)
        if not isinstance(answer, PushFailure):
            await self._complete(group)
            return []
        if answer.status == 413 and len(group) > 1:
            return _halves(group)
        if answer.status in (401, 403):
            await self._retry(group, answer, refused=True)
            raise AccountRefused(answer.detail or "")
        if answer.retryable:
            await self._retry(group, answer)
            return []
        if len(group) == 1:
            await self._reject({0: answer}, group)
            return []
        bad = _rows_named(answer, positions)
        if not bad:
            # A rejection that names no row: halve until the row is found (≤ 10 rounds).
            return _halves(group)
        await self._reject(bad, group)
        rest = [row for index, row in enumerate(group) if index not in bad]
        return [rest] if rest else []

    async def _drop_unbuildable(
        self, group: list[dict[str, Any]], exc: Exception
    ) -> list[list[dict[str, Any]]]:
        """A row whose event cannot be built fails alone; the others go on."""
        bad: dict[int, PushFailure] = {}
        for index, row in enumerate(group):
            try:
                event_create_body(row)
            except (ValueError, UnknownCurrency) as row_exc:
                bad[index] = PushFailure(kind="rejected", code="unbuildable", detail=str(row_exc))
        if not bad:
            failure = PushFailure(kind="rejected", code="unbuildable", detail=str(exc))
            bad = dict.fromkeys(range(len(group)), failure)
        await self._reject(bad, group)
        rest = [row for index, row in enumerate(group) if index not in bad]
        return [rest] if rest else []

    async def _complete(self, group: Sequence[dict[str, Any]]) -> None:
        async with self.ctx.pool.connection() as conn:
            done = await settle(
                conn, COMPLETE_EVENTS, ids=[r["id"] for r in group], token=self.token
            )
        self.report.sent += done
        log.debug("drain_batch_sent", surface=SURFACE, batch_size=len(group), settled=done)

    async def _reject(self, bad: dict[int, PushFailure], group: list[dict[str, Any]]) -> None:
        decisions = []
        for index, failure in bad.items():
            row = group[index]
            error = describe(
                SURFACE, row["id"], failure, f"idempotency key {row['idempotency_key']}"
            )
            decisions.append(self.ctx.policy.decide(row["id"], row["attempts"], failure, error))
            log.info(
                "drain_row_rejected",
                surface=SURFACE,
                row_id=str(row["id"]),
                klaviyo_status=failure.status,
                code=failure.code,
                pointer=failure.pointer,
            )
        await self._settle_decisions(decisions)

    async def _retry(
        self, group: list[dict[str, Any]], failure: PushFailure, *, refused: bool = False
    ) -> None:
        decisions = []
        for row in group:
            error = describe(SURFACE, row["id"], failure)
            if refused:
                # The key was refused: the rows are fine, the account is not. Keep them pending.
                later = datetime.now(UTC) + timedelta(seconds=ACCOUNT_REFUSED_PAUSE_S)
                decisions.append(RetryDecision(row["id"], later, error, final=False, counts=False))
            else:
                decisions.append(self.ctx.policy.decide(row["id"], row["attempts"], failure, error))
        log.info(
            "drain_batch_retry",
            surface=SURFACE,
            batch_size=len(group),
            klaviyo_status=failure.status,
            code=failure.code,
        )
        await self._settle_decisions(decisions)

    async def _settle_decisions(self, decisions: list[RetryDecision]) -> None:
        async with self.ctx.pool.connection() as conn:
            await settle_retries(conn, RETRY_EVENTS, self.token, decisions)
        self.report.failed += sum(d.final for d in decisions)
        self.report.retried += sum(not d.final for d in decisions)

    async def _release(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        async with self.ctx.pool.connection() as conn:
            await settle(conn, RELEASE_EVENTS, ids=[r["id"] for r in rows], token=self.token)


async def drain_events(ctx: DrainContext, *, parallel: int = 2) -> EventDrainReport:
    """Push due events until none is left or the tick's time slice ends. `parallel` batches are
    in flight at once, so claiming and settling overlap with Klaviyo's answers."""
    started = time.monotonic()
    reports = await asyncio.gather(*(_drain_loop(ctx) for _ in range(max(1, parallel))))
    total = EventDrainReport(requests=ctx.requests, throttled=ctx.throttled)
    for report in reports:
        total.sent += report.sent
        total.failed += report.failed
        total.retried += report.retried
    if total.sent or total.failed or total.retried:
        log.info(
            "drain_tick_done",
            surface=SURFACE,
            sent=total.sent,
            failed=total.failed,
            retried=total.retried,
            requests=total.requests,
            throttled=total.throttled,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
    return total


async def _drain_loop(ctx: DrainContext) -> EventDrainReport:
    total = EventDrainReport()
    while ctx.time_left() > 0 and await ctx.budget_allows(BULK_CREATE_EVENTS):
        token = new_lease_token(ctx.worker)
        async with ctx.pool.connection() as conn:
            rows = await claim(
                conn,
                CLAIM_PENDING_EVENTS,
                token=token,
                limit=min(ctx.batch_size, MAX_EVENTS_PER_JOB),
                lease_s=ctx.lease_s,
            )
        if not rows:
            break
        report = await _Batch(ctx, token, rows).push()
        total.sent += report.sent
        total.failed += report.failed
        total.retried += report.retried
        if report.stopped:
            break  # out of budget for this slice, or the key was refused: the rest was released
    return total


def _distinct_unique_ids(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Klaviyo refuses a bulk request that repeats a unique_id (status events reuse their
    order's): such rows go in a later request of the same batch."""
    groups: list[list[dict[str, Any]]] = []
    seen: list[set[str]] = []
    for row in rows:
        unique_id = row.get("unique_id") or row["idempotency_key"]
        for group, ids in zip(groups, seen, strict=True):
            if unique_id not in ids:
                group.append(row)
                ids.add(unique_id)
                break
        else:
            groups.append([row])
            seen.append({unique_id})
    return groups


def _rows_named(failure: PushFailure, positions: list[list[int]]) -> dict[int, PushFailure]:
    """Rows (by index in the group) that the error pointers name; a pointer at an entry's
    profile names every event of that entry."""
    bad: dict[int, PushFailure] = {}
    for row_error in failure.row_errors:
        match = _EVENT_POINTER.match(row_error.pointer or "")
        if not match or int(match.group(1)) >= len(positions):
            continue
        entry = positions[int(match.group(1))]
        if match.group(2) is None:
            indices = entry
        else:
            indices = entry[int(match.group(2)) : int(match.group(2)) + 1]
        for index in indices:
            bad.setdefault(index, row_error)
    return bad


def _halves(group: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    middle = len(group) // 2
    return [group[:middle], group[middle:]]
