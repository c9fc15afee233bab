"""E-mail consent into Klaviyo through its subscription bulk jobs, never through list membership.

Only rows whose consent changed since the last push are sent: subscribed ones in a
subscription bulk create job, unsubscribed ones in a bulk delete job, in chunks of Klaviyo's
per-request maximum. A row a job refuses (by pointer) fails alone; a transient failure sends the
row's whole push again later (profile-import and consent jobs are both safe to repeat).

The store was read when the batch was claimed; a consent webhook applied since then (say, an
unsubscribe made in Klaviyo) should not be undone by that older read. So each chunk is checked
against the rows as they are just before it is sent, and a row whose consent moved meanwhile is
left out: the change made it pending again, and the next push sends its new state. A change
landing between that check and the request still loses the race for one push; its row is
pending again all the same, so the next push puts Klaviyo right.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.klaviyo.drain.context import (
    SUBSCRIBE_PROFILES,
    UNSUBSCRIBE_PROFILES,
    AccountRefused,
    DrainContext,
    Endpoint,
)
from app.klaviyo.drain.profile_push import ProfilePush
from app.klaviyo.drain.retry import PushFailure
from app.klaviyo.payloads.profiles import subscription_create_job, subscription_delete_job

# Klaviyo's per-request maximum of each job.
SUBSCRIBE_MAX = 1000
UNSUBSCRIBE_MAX = 100
_ROW_POINTER = re.compile(r"^/data/attributes/profiles/data/(\d+)")

# The rows whose consent is still what the chunk would send: the store's consent unchanged,
# not suppressed meanwhile, and `pushed_consent` as it was claimed (a webhook sets it).
_STILL_WANTED = """
    SELECT s.id
    FROM unnest(%(ids)s::uuid[], %(pushed)s::text[]) AS claimed(id, pushed_consent)
    JOIN klaviyo.profile_state s ON s.id = claimed.id
    JOIN klaviyo_source.customers c ON c.customer_id = s.customer_id
    WHERE s.subscription_status <> 'suppressed'
      AND s.pushed_consent IS NOT DISTINCT FROM claimed.pushed_consent
      AND klaviyo.consent_status(c.accepts_email_marketing, c.consent_updated_at) = %(consent)s
"""


async def push_consent(ctx: DrainContext, pushes: Sequence[ProfilePush]) -> None:
    """Send the consent changes of the rows Klaviyo has taken; sets `pushed_consent`."""
    by_consent: dict[str, list[ProfilePush]] = {"subscribed": [], "unsubscribed": []}
    for push in pushes:
        if push.synced:
            wanted = push.wanted_consent()
            if wanted in by_consent:
                by_consent[wanted].append(push)
    await _send_chunks(ctx, SUBSCRIBE_PROFILES, by_consent["subscribed"], SUBSCRIBE_MAX)
    await _send_chunks(ctx, UNSUBSCRIBE_PROFILES, by_consent["unsubscribed"], UNSUBSCRIBE_MAX)


async def _send_chunks(
    ctx: DrainContext, endpoint: Endpoint, pushes: list[ProfilePush], size: int
) -> None:
    consent = "subscribed" if endpoint is SUBSCRIBE_PROFILES else "unsubscribed"
    for start in range(0, len(pushes), size):
        chunk = pushes[start : start + size]
        while chunk:
            chunk = await _send(ctx, endpoint, consent, chunk)


async def _send(
    ctx: DrainContext, endpoint: Endpoint, consent: str, chunk: list[ProfilePush]
) -> list[ProfilePush]:
    """One job request; answers the rows to send again (those left after a refused row)."""
    chunk = await _still_wanted(ctx, consent, chunk)
    if not chunk:
        return []
    sources = [p.source for p in chunk if p.source is not None]
    if endpoint is SUBSCRIBE_PROFILES:
        body = subscription_create_job(sources)
    else:
        body = subscription_delete_job(sources)
    answer = await ctx.send(endpoint, body=body)
    if not isinstance(answer, PushFailure):
        for push in chunk:
            push.pushed_consent = consent
        return []
    if answer.status in (401, 403):
        raise AccountRefused(answer.detail or "")
    named: dict[int, PushFailure] = {}
    if not answer.retryable:
        for row_error in answer.row_errors:
            match = _ROW_POINTER.match(row_error.pointer or "")
            if match and int(match.group(1)) < len(chunk):
                named.setdefault(int(match.group(1)), row_error)
    if not named:
        _fail_all(chunk, answer)
        return []
    for index, row_failure in named.items():
        chunk[index].fail(row_failure)
    return [p for i, p in enumerate(chunk) if i not in named]


async def _still_wanted(
    ctx: DrainContext, consent: str, chunk: list[ProfilePush]
) -> list[ProfilePush]:
    """The rows of `chunk` whose consent has not moved since the claim, in order."""
    params = {
        "ids": [p.row_id for p in chunk],
        "pushed": [p.row.get("pushed_consent") for p in chunk],
        "consent": consent,
    }
    async with ctx.pool.connection() as conn:
        cur = await conn.execute(_STILL_WANTED, params)
        current = {row[0] for row in await cur.fetchall()}
    return [p for p in chunk if p.row_id in current]


def _fail_all(chunk: Sequence[ProfilePush], failure: PushFailure) -> None:
    for push in chunk:
        push.fail(failure)
