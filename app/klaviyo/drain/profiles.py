"""The profile drain: pending state rows pushed as the customer is at push time.

A claimed batch is read through the source contract in one query, imported (profile-import per
row for a few, one bulk import job for a backlog), then its consent changes go out through the
subscription jobs. Settling follows the change_seq rule: a row touched while its push was in
flight stays pending and goes again with the newer state. A customer missing from the store is
`skipped`; a field Klaviyo would refuse (an unparseable phone) is left out and noted in
last_error while the profile still syncs.
"""

from __future__ import annotations

import time

import msgspec
import structlog

from app.klaviyo.drain.claims import (
    CLAIM_PENDING_PROFILES,
    COMPLETE_PROFILES,
    RELEASE_PROFILES,
    RENEW_PROFILE_LEASE,
    RETRY_PROFILES,
    SKIP_PROFILES,
    claim,
    new_lease_token,
    settle,
    settle_retries,
)
from app.klaviyo.drain.consent_jobs import push_consent
from app.klaviyo.drain.context import DrainContext, DrainStopped
from app.klaviyo.drain.profile_import import import_bulk, import_one
from app.klaviyo.drain.profile_push import ProfilePush
from app.klaviyo.drain.retry import describe
from app.klaviyo.outbox.profile_source import load_profile_sources

log = structlog.get_logger(__name__)

SURFACE = "profiles"
# Up to this many rows go one by one through profile-import (L tier, immediate); more go in one
# bulk import job (M tier, asynchronous, up to 10,000 profiles).
PROFILE_IMPORT_MAX_ROWS = 10
MAX_PROFILES_PER_JOB = 10_000


class ProfileDrainReport(msgspec.Struct, kw_only=True):
    synced: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    requests: int = 0
    throttled: int = 0
    stopped: bool = False


async def drain_profiles(ctx: DrainContext) -> ProfileDrainReport:
    """Push due profiles until none is left or the tick's time slice ends."""
    started = time.monotonic()
    total = ProfileDrainReport()
    while ctx.time_left() > 0 and not total.stopped:
        token = new_lease_token(ctx.worker)
        async with ctx.pool.connection() as conn:
            rows = await claim(
                conn,
                CLAIM_PENDING_PROFILES,
                token=token,
                limit=min(ctx.batch_size, MAX_PROFILES_PER_JOB),
                lease_s=ctx.lease_s,
            )
            sources = await load_profile_sources(conn, [r["customer_id"] for r in rows])
        if not rows:
            break
        pushes = [ProfilePush(row, sources.get(row["customer_id"])) for row in rows]
        await _push_batch(ctx, token, pushes, total)
    total.requests, total.throttled = ctx.requests, ctx.throttled
    if total.synced or total.failed or total.retried or total.skipped:
        log.info(
            "drain_tick_done",
            surface=SURFACE,
            synced=total.synced,
            failed=total.failed,
            retried=total.retried,
            skipped=total.skipped,
            requests=total.requests,
            throttled=total.throttled,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
    return total


async def _push_batch(
    ctx: DrainContext, token: str, pushes: list[ProfilePush], total: ProfileDrainReport
) -> None:
    ids = [p.row_id for p in pushes]

    async def renew_lease() -> None:
        async with ctx.pool.connection() as conn:
            await settle(conn, RENEW_PROFILE_LEASE, ids=ids, token=token, lease_s=ctx.lease_s)

    pushable = [p for p in pushes if p.pushable]
    try:
        if len(pushable) <= PROFILE_IMPORT_MAX_ROWS:
            for push in pushable:
                await import_one(ctx, push)
        else:
            await import_bulk(ctx, pushable, renew_lease)
        await push_consent(ctx, pushable)
    except DrainStopped as stop:
        total.stopped = True
        log.info("drain_stopped", surface=SURFACE, reason=type(stop).__name__)
        async with ctx.pool.connection() as conn:
            await settle(conn, RELEASE_PROFILES, ids=ids, token=token)
        return
    await _settle(ctx, token, pushes, total)


async def _settle(
    ctx: DrainContext, token: str, pushes: list[ProfilePush], total: ProfileDrainReport
) -> None:
    skipped = [p for p in pushes if p.skip_reason]
    synced = [p for p in pushes if p.synced]
    failed = [p for p in pushes if p.failure is not None and not p.skip_reason]
    unsent = [p for p in pushes if not (p.skip_reason or p.synced or p.failure is not None)]
    decisions = []
    for push in failed:
        assert push.failure is not None
        error = describe(SURFACE, push.row_id, push.failure, f"customer {push.row['customer_id']}")
        decisions.append(
            ctx.policy.decide(
                push.row_id,
                push.row["attempts"],
                push.failure,
                error,
                change_seq=push.row["change_seq"],
            )
        )
    async with ctx.pool.connection() as conn:
        if synced:
            await settle(
                conn,
                COMPLETE_PROFILES,
                token=token,
                ids=[p.row_id for p in synced],
                seqs=[p.row["change_seq"] for p in synced],
                profile_ids=[p.klaviyo_profile_id for p in synced],
                consents=[p.pushed_consent for p in synced],
                warnings=[p.warning_text() for p in synced],
            )
        if skipped:
            await settle(
                conn,
                SKIP_PROFILES,
                token=token,
                ids=[p.row_id for p in skipped],
                seqs=[p.row["change_seq"] for p in skipped],
                reasons=[p.skip_reason for p in skipped],
            )
        await settle_retries(conn, RETRY_PROFILES, token, decisions)
        if unsent:
            await settle(conn, RELEASE_PROFILES, ids=[p.row_id for p in unsent], token=token)
    total.synced += len(synced)
    total.skipped += len(skipped)
    total.failed += sum(d.final for d in decisions)
    total.retried += sum(not d.final for d in decisions)
