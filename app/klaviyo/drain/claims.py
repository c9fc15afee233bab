"""Claiming drain batches under a lease: FOR UPDATE SKIP LOCKED, and lease-checked settlement.

A claim stamps the rows with a lease token (one per claim) and an expiry. Rows whose lease has
expired (a killed worker's) are claimable again. Every statement that settles a row names the
token, so a worker whose lease was lost and retaken changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads

_CLAIMABLE = """
    status = 'pending' AND next_attempt_at <= now()
    AND (lease_expires_at IS NULL OR lease_expires_at < now())
"""

CLAIM_PENDING_EVENTS = f"""
    WITH batch AS (
        SELECT id FROM klaviyo.event_outbox
        WHERE {_CLAIMABLE}
        ORDER BY next_attempt_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE klaviyo.event_outbox e
    SET leased_by = %(token)s, lease_expires_at = now() + make_interval(secs => %(lease_s)s)
    FROM batch
    WHERE e.id = batch.id
    RETURNING e.id, e.idempotency_key, e.unique_id, e.metric_name, e.customer_id, e.email,
              e.profile, e.properties, e.value_cents, e.value_currency, e.occurred_at,
              e.backfill, e.attempts
"""

CLAIM_PENDING_PROFILES = f"""
    WITH batch AS (
        SELECT id FROM klaviyo.profile_state
        WHERE {_CLAIMABLE}
        ORDER BY next_attempt_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE klaviyo.profile_state s
    SET leased_by = %(token)s, lease_expires_at = now() + make_interval(secs => %(lease_s)s)
    FROM batch
    WHERE s.id = batch.id
    RETURNING s.id, s.customer_id, s.klaviyo_profile_id, s.subscription_status,
              s.pushed_consent, s.change_seq, s.attempts
"""

RENEW_EVENT_LEASE = """
    UPDATE klaviyo.event_outbox
    SET lease_expires_at = now() + make_interval(secs => %(lease_s)s)
    WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
"""

RENEW_PROFILE_LEASE = """
    UPDATE klaviyo.profile_state
    SET lease_expires_at = now() + make_interval(secs => %(lease_s)s)
    WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
"""

COMPLETE_EVENTS = """
    UPDATE klaviyo.event_outbox
    SET status = 'sent', processed_at = now(), attempts = attempts + 1, last_error = NULL,
        leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
"""

# Settles a pushed profile. Synced only if no touch arrived since the claim (change_seq still
# what was read); otherwise it stays pending, due now, for the next push to send the new state.
COMPLETE_PROFILES = """
    UPDATE klaviyo.profile_state s
    SET status = CASE WHEN s.change_seq = done.change_seq THEN 'synced' ELSE 'pending' END,
        pushed_seq = done.change_seq,
        klaviyo_profile_id = coalesce(done.klaviyo_profile_id, s.klaviyo_profile_id),
        pushed_consent = coalesce(done.pushed_consent, s.pushed_consent),
        last_error = done.warning,
        attempts = CASE WHEN s.change_seq = done.change_seq THEN s.attempts + 1 ELSE 0 END,
        last_synced_at = now(),
        next_attempt_at = now(),
        leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(seqs)s::bigint[], %(profile_ids)s::text[],
                %(consents)s::text[], %(warnings)s::text[])
         AS done(id, change_seq, klaviyo_profile_id, pushed_consent, warning)
    WHERE s.id = done.id AND s.leased_by = %(token)s
"""

SKIP_PROFILES = """
    UPDATE klaviyo.profile_state s
    SET status = CASE WHEN s.change_seq = done.change_seq THEN 'skipped' ELSE 'pending' END,
        last_error = done.reason, leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(seqs)s::bigint[], %(reasons)s::text[])
         AS done(id, change_seq, reason)
    WHERE s.id = done.id AND s.leased_by = %(token)s
"""

# A failed push: back to pending with the next attempt's time, or failed for good. `counts`
# says whether the failure uses up an attempt (a 429 does not: it says "later", not "wrong").
_RETRY_SET = """
    SET status = CASE WHEN r.final THEN 'failed' ELSE 'pending' END,
        attempts = t.attempts + CASE WHEN r.counts THEN 1 ELSE 0 END,
        next_attempt_at = r.next_attempt_at,
        last_error = r.error,
        leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(next)s::timestamptz[], %(errors)s::text[],
                %(final)s::bool[], %(counts)s::bool[])
         AS r(id, next_attempt_at, error, final, counts)
"""

RETRY_EVENTS = f"""
    UPDATE klaviyo.event_outbox t {_RETRY_SET}
    WHERE t.id = r.id AND t.leased_by = %(token)s
"""

# A touch during the push (change_seq moved on) already made the row pending with attempts 0:
# the failure is then neither final nor counted, and the new state goes out next.
RETRY_PROFILES = """
    UPDATE klaviyo.profile_state t
    SET status = CASE WHEN r.final AND t.change_seq = r.change_seq THEN 'failed'
                      ELSE 'pending' END,
        attempts = t.attempts + CASE WHEN r.counts AND t.change_seq = r.change_seq
                                     THEN 1 ELSE 0 END,
        next_attempt_at = CASE WHEN t.change_seq = r.change_seq THEN r.next_attempt_at
                               ELSE now() END,
        last_error = r.error,
        leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(next)s::timestamptz[], %(errors)s::text[],
                %(final)s::bool[], %(counts)s::bool[], %(seqs)s::bigint[])
         AS r(id, next_attempt_at, error, final, counts, change_seq)
    WHERE t.id = r.id AND t.leased_by = %(token)s
"""

RELEASE_EVENTS = """
    UPDATE klaviyo.event_outbox SET leased_by = NULL, lease_expires_at = NULL
    WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
"""

RELEASE_PROFILES = """
    UPDATE klaviyo.profile_state SET leased_by = NULL, lease_expires_at = NULL
    WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
"""


def new_lease_token(worker: str) -> str:
    """One token per claim: two drains in one process never settle each other's rows."""
    return f"{worker}:{uuid.uuid4().hex[:12]}"


async def claim(
    conn: psycopg.AsyncConnection, statement: str, *, token: str, limit: int, lease_s: float
) -> list[dict[str, Any]]:
    """Claim up to `limit` due rows with CLAIM_PENDING_EVENTS or CLAIM_PENDING_PROFILES."""
    async with conn.cursor(row_factory=dict_row) as cur:
        # msgspec reads the jsonb payloads several times faster than the stdlib json module.
        set_json_loads(msgspec.json.decode, cur)
        await cur.execute(statement, {"token": token, "limit": limit, "lease_s": lease_s})
        return await cur.fetchall()


async def settle(conn: psycopg.AsyncConnection, statement: str, **params: Any) -> int:
    """Run one of the lease-checked statements above; answers how many rows it touched."""
    cur = await conn.execute(statement, params)
    return cur.rowcount


class RetryDecision:
    """Where one failed row goes next: its next attempt, or failed for good."""

    __slots__ = ("row_id", "next_attempt_at", "error", "final", "counts", "change_seq")

    def __init__(
        self,
        row_id: Any,
        next_attempt_at: datetime,
        error: str,
        final: bool,
        counts: bool,
        change_seq: int | None = None,
    ) -> None:
        self.row_id = row_id
        self.next_attempt_at = next_attempt_at
        self.error = error
        self.final = final
        self.counts = counts
        self.change_seq = change_seq


async def settle_retries(
    conn: psycopg.AsyncConnection, statement: str, token: str, decisions: Sequence[RetryDecision]
) -> int:
    """Write RETRY_EVENTS or RETRY_PROFILES for `decisions` in one statement."""
    if not decisions:
        return 0
    params: dict[str, Any] = {
        "token": token,
        "ids": [d.row_id for d in decisions],
        "next": [d.next_attempt_at for d in decisions],
        "errors": [d.error for d in decisions],
        "final": [d.final for d in decisions],
        "counts": [d.counts for d in decisions],
    }
    if statement is RETRY_PROFILES:
        params["seqs"] = [d.change_seq for d in decisions]
    return await settle(conn, statement, **params)
