"""The apply step: pending inbox rows become the store's consent and the profile state row.

Consent lives in the store and is written through the source contract
(`klaviyo_source.set_customer_consent`); a suppression is Klaviyo's overlay, kept on the state
row with its reason. Each dimension remembers the event time of the change that set it, so an
older event never overwrites a newer state, whatever order the rows are applied in.
`pushed_consent` is set to what Klaviyo now holds, so the next profile push sends no consent job
that would undo the shopper's choice, and does send one when the store holds a newer choice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
import structlog
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from app.klaviyo.webhooks.topics import LIFTED_BY_SUBSCRIBE, ConsentChange, ProfileRef, meaning_of

log = structlog.get_logger(__name__)

_CLAIM_PENDING = """
SELECT id, external_id, topic, event_at, payload, attempts
FROM klaviyo.webhook_inbox
WHERE status = 'pending'
ORDER BY event_at, id
LIMIT %s
FOR UPDATE SKIP LOCKED
"""

_FIND_CUSTOMER = """
SELECT customer_id FROM (
    SELECT s.customer_id, 1 AS rank FROM klaviyo.profile_state s
    WHERE s.klaviyo_profile_id = %(profile_id)s
    UNION ALL
    SELECT c.customer_id, 2 FROM klaviyo_source.customers c
    WHERE c.customer_id = %(external_id)s
    UNION ALL
    SELECT c.customer_id, 3 FROM klaviyo_source.customers c
    WHERE lower(c.email) = lower(%(email)s)
) found
ORDER BY rank, customer_id
LIMIT 1
"""

_LOCK_STATE = """
SELECT id, subscription_status, suppression_reason, consent_changed_at, suppression_changed_at
FROM klaviyo.profile_state
WHERE customer_id = %s
FOR UPDATE
"""

_STORE_CONSENT = """
SELECT accepts_email_marketing, consent_updated_at,
       klaviyo.consent_status(accepts_email_marketing, consent_updated_at) AS consent
FROM klaviyo_source.customers
WHERE customer_id = %s
"""

_UPDATE_STATE = """
UPDATE klaviyo.profile_state
SET subscription_status = %(status)s,
    suppression_reason = %(reason)s,
    suppression_changed_at = %(suppression_at)s,
    consent_changed_at = %(consent_at)s,
    pushed_consent = coalesce(%(pushed_consent)s, pushed_consent),
    klaviyo_profile_id = coalesce(klaviyo_profile_id, %(profile_id)s),
    updated_at = now()
WHERE id = %(id)s
"""

_MARK_DONE = """
UPDATE klaviyo.webhook_inbox
SET status = %s, result = %s, customer_id = %s, applied_at = now(), attempts = attempts + 1,
    last_error = NULL
WHERE id = %s
"""

_MARK_FAILED = """
UPDATE klaviyo.webhook_inbox
SET attempts = attempts + 1, last_error = %s,
    status = CASE WHEN attempts + 1 >= %s THEN 'failed' ELSE 'pending' END
WHERE id = %s
"""


async def apply_pending(
    pool: AsyncConnectionPool, *, batch_size: int = 500, max_attempts: int = 8
) -> Counter[str]:
    """Applies every pending inbox row, oldest event first; answers counts per result."""
    totals: Counter[str] = Counter()
    while True:
        async with pool.connection() as conn:
            async with conn.transaction():
                async with conn.cursor(row_factory=dict_row) as cur:
                    await cur.execute(_CLAIM_PENDING, (batch_size,))
                    rows = await cur.fetchall()
                for row in rows:
                    totals[await _apply_row(conn, row, max_attempts)] += 1
        if len(rows) < batch_size:
            break
    if totals:
        log.info("webhook_inbox_applied", **dict(totals))
    return totals


async def _apply_row(conn: psycopg.AsyncConnection, row: dict[str, Any], max_attempts: int) -> str:
    try:
        async with conn.transaction():
            status, result, customer_id = await apply_inbox_row(conn, row)
            await conn.execute(_MARK_DONE, (status, result, customer_id, row["id"]))
            return result
    except Exception as exc:
        # One bad row is retried on its own by the next run; the rest of the batch goes on.
        log.warning(
            "webhook_inbox_apply_failed",
            inbox_id=row["id"],
            topic=row["topic"],
            attempt=row["attempts"] + 1,
            error=type(exc).__name__,
        )
        await conn.execute(_MARK_FAILED, (str(exc)[:500], max_attempts, row["id"]))
        return "failed"


async def apply_inbox_row(
    conn: psycopg.AsyncConnection, row: dict[str, Any]
) -> tuple[str, str, str | None]:
    """Answers (inbox status, result, customer id) for one row."""
    meaning = meaning_of(row["topic"], row["payload"] or {}, row["event_at"])
    if meaning is None:
        return "ignored", "unknown_topic", None
    customer_id = await _find_customer(conn, meaning.profile)
    if customer_id is None:
        return "ignored", "no_customer", None
    state = await _lock_state(conn, customer_id)
    if state is None:
        return "ignored", "no_state_row", customer_id
    results = [
        await _apply_change(conn, customer_id, state, c, meaning.profile) for c in meaning.changes
    ]
    return "applied", ",".join(results), customer_id


async def _find_customer(conn: psycopg.AsyncConnection, ref: ProfileRef) -> str | None:
    if not (ref.klaviyo_profile_id or ref.external_id or ref.email):
        return None
    params = {
        "profile_id": ref.klaviyo_profile_id,
        "external_id": ref.external_id,
        "email": ref.email,
    }
    found = await _fetch_one(conn, _FIND_CUSTOMER, params)
    return found["customer_id"] if found else None


async def _fetch_one(
    conn: psycopg.AsyncConnection, query: str, params: Sequence[Any] | Mapping[str, Any]
) -> DictRow | None:
    """The first row of `query` as a dict, the connection's own row factory left as it is."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def _lock_state(conn: psycopg.AsyncConnection, customer_id: str) -> dict[str, Any] | None:
    state = await _fetch_one(conn, _LOCK_STATE, (customer_id,))
    if state is None:
        # First news of this customer: the producer creates the state row (no-op, module off).
        await conn.execute("SELECT klaviyo.touch_customer(%s)", (customer_id,))
        state = await _fetch_one(conn, _LOCK_STATE, (customer_id,))
    return state


async def _store_consent(conn: psycopg.AsyncConnection, customer_id: str) -> dict[str, Any]:
    store = await _fetch_one(conn, _STORE_CONSENT, (customer_id,))
    assert store is not None  # the customer was just found through the same view
    return store


def _newer(at: datetime, known: datetime | None) -> bool:
    return known is None or at > known


async def _apply_change(
    conn: psycopg.AsyncConnection,
    customer_id: str,
    state: dict[str, Any],
    change: ConsentChange,
    ref: ProfileRef,
) -> str:
    """Applies one change to the locked state row (updated in place); answers its result."""
    reason, suppression_at = state["suppression_reason"], state["suppression_changed_at"]
    consent_at, pushed_consent = state["consent_changed_at"], None
    push_store_choice = False

    if change.kind == "consent":
        if not _newer(change.at, consent_at):
            return "stale"
        wanted = "subscribed" if change.subscribed else "unsubscribed"
        result = "subscribed" if change.subscribed else "unsubscribed"
        store = await _store_consent(conn, customer_id)
        if store["consent"] != wanted:
            # Written only when it differs: an unchanged store row fires no listener, so no
            # profile push follows a webhook that only confirms what the store holds.
            await conn.execute(
                "SELECT klaviyo_source.set_customer_consent(%s, %s, %s)",
                (customer_id, change.subscribed, change.at),
            )
            store = await _store_consent(conn, customer_id)
            if store["consent"] != wanted:
                # The shopper chose again in the store after this event. Klaviyo holds this
                # event's consent all the same: recorded as pushed, the store's choice differs
                # from it, and the row goes out again to send that choice.
                push_store_choice, result = True, "store_newer"
        consent_at, pushed_consent = change.at, wanted
        lifts = change.subscribed and reason in LIFTED_BY_SUBSCRIBE
        if lifts and _newer(change.at, suppression_at):
            reason, suppression_at = None, change.at
    elif change.kind == "suppress":
        store = await _store_consent(conn, customer_id)
        lifted_later = (
            change.reason in LIFTED_BY_SUBSCRIBE
            and store["consent"] == "subscribed"
            and not _newer(change.at, consent_at)
        )
        if not _newer(change.at, suppression_at) or lifted_later:
            return "stale"
        reason, suppression_at, result = change.reason, change.at, "suppressed"
    else:
        if not _newer(change.at, suppression_at):
            return "stale"
        store = await _store_consent(conn, customer_id)
        result = "unsuppressed" if reason is not None else "not_suppressed"
        reason, suppression_at = None, change.at

    status = "suppressed" if reason is not None else store["consent"]
    await conn.execute(
        _UPDATE_STATE,
        {
            "id": state["id"],
            "status": status,
            "reason": reason,
            "suppression_at": suppression_at,
            "consent_at": consent_at,
            "pushed_consent": pushed_consent,
            "profile_id": ref.klaviyo_profile_id,
        },
    )
    if push_store_choice:
        await conn.execute("SELECT klaviyo.touch_customer(%s)", (customer_id,))
    state.update(
        subscription_status=status,
        suppression_reason=reason,
        suppression_changed_at=suppression_at,
        consent_changed_at=consent_at,
    )
    return result
