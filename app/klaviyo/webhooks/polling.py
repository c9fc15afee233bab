"""Polling fallback for accounts without system webhooks: consent read from Klaviyo's profiles.

Each tick reads the profiles Klaviyo updated after a stored cursor (with their e-mail marketing
subscriptions), turns each into an inbox row with a deterministic external id, and leaves the
rest to the same apply step as the webhooks. A profile whose consent did not change yields the
same external id again, which the inbox ignores; so the cursor can safely step back a little
(`CURSOR_OVERLAP`) to catch changes committed late in Klaviyo.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
import structlog
from psycopg_pool import AsyncConnectionPool

from app.klaviyo.client import KlaviyoApiError
from app.klaviyo.rate_budget import KlaviyoRateBudget
from app.klaviyo.webhooks.inbox import InboxRow, store_inbox_rows
from app.klaviyo.webhooks.topics import POLLED_CONSENT_TOPIC

log = structlog.get_logger(__name__)

PROFILES_PATH = "/api/profiles"
PROFILES_TIER = "L"
PROFILES_OPERATION = "get_profiles"
CURSOR_OVERLAP = timedelta(seconds=60)
# With no cursor yet, the first poll reads every profile once.
FIRST_CURSOR = datetime(2000, 1, 1, tzinfo=UTC)


class PollReport(msgspec.Struct, kw_only=True):
    pages: int = 0
    profiles: int = 0
    new_rows: int = 0
    complete: bool = False
    cursor: datetime | None = None


def klaviyo_time(moment: datetime) -> str:
    # 'Z' rather than '+00:00': a '+' in a filter travelling in a next link reads as a space.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def polled_row(profile: dict[str, Any]) -> InboxRow | None:
    """One inbox row for a profile's e-mail marketing state; None when it carries none."""
    attributes = profile.get("attributes") or {}
    marketing = ((attributes.get("subscriptions") or {}).get("email") or {}).get("marketing")
    if not isinstance(marketing, dict) or not isinstance(profile.get("id"), str):
        return None
    suppressions = [
        {"reason": s.get("reason"), "timestamp": s.get("timestamp")}
        for s in marketing.get("suppression") or []
        if isinstance(s, dict)
    ]
    state = {
        "consent": marketing.get("consent"),
        "consent_at": marketing.get("consent_timestamp"),
        "suppressions": suppressions,
        "last_updated": marketing.get("last_updated"),
    }
    digest = hashlib.sha256(msgspec.json.encode(state, order="sorted")).hexdigest()[:24]
    event_at = _time(marketing.get("last_updated")) or _time(attributes.get("updated"))
    payload = {
        "profile": {
            "id": profile["id"],
            "email": attributes.get("email"),
            "external_id": attributes.get("external_id"),
        },
        **state,
    }
    return InboxRow(
        external_id=f"poll:{profile['id']}:{digest}",
        topic=POLLED_CONSENT_TOPIC,
        event_at=event_at or datetime.now(UTC),
        payload=msgspec.json.encode(payload).decode(),
        source="poll",
    )


async def load_cursor(pool: AsyncConnectionPool) -> datetime | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT updated_after FROM klaviyo.consent_poll_cursor")
        row = await cur.fetchone()
    return row[0] if row else None


async def save_cursor(pool: AsyncConnectionPool, updated_after: datetime, seen: int) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            """
            INSERT INTO klaviyo.consent_poll_cursor (updated_after, polled_at, profiles_seen)
            VALUES (%s, now(), %s)
            ON CONFLICT (singleton) DO UPDATE
            SET updated_after = greatest(klaviyo.consent_poll_cursor.updated_after,
                                         EXCLUDED.updated_after),
                polled_at = now(),
                profiles_seen = klaviyo.consent_poll_cursor.profiles_seen + EXCLUDED.profiles_seen
            """,
            (updated_after, seen),
        )


async def poll_consent_changes(
    pool: AsyncConnectionPool,
    client: Any,
    budget: KlaviyoRateBudget,
    *,
    account_id: str,
    page_size: int = 100,
    max_pages: int = 1000,
) -> PollReport:
    """One pass from the cursor to the newest change; the cursor moves only after a full pass,
    so an interrupted pass (429, error, page cap) is read again next tick."""
    report = PollReport()
    since = await load_cursor(pool) or FIRST_CURSOR
    newest = since
    params: dict[str, Any] | None = {
        "additional-fields[profile]": "subscriptions",
        "filter": f"greater-than(updated,{klaviyo_time(since)})",
        "page[size]": str(page_size),
    }
    while params is not None and report.pages < max_pages:
        await budget.wait_for(account_id, PROFILES_TIER, operation=PROFILES_OPERATION)
        try:
            response = await client.request("GET", PROFILES_PATH, params=params)
        except KlaviyoApiError as exc:
            if exc.status != 429:
                raise
            # Every worker holds back; this pass ends and the next tick reads from the cursor.
            await budget.penalize(
                account_id, PROFILES_TIER, exc.retry_after or 1.0, operation=PROFILES_OPERATION
            )
            break
        await budget.observe(
            account_id, PROFILES_TIER, response.headers, operation=PROFILES_OPERATION
        )
        document = response.json()
        report.pages += 1
        rows = []
        for profile in document.get("data") or []:
            report.profiles += 1
            updated = _time((profile.get("attributes") or {}).get("updated"))
            if updated is not None and updated > newest:
                newest = updated
            row = polled_row(profile)
            if row is not None:
                rows.append(row)
        async with pool.connection() as conn:
            report.new_rows += await store_inbox_rows(conn, rows)
        params = _next_params((document.get("links") or {}).get("next"))
    report.complete = params is None and report.pages > 0
    if report.complete:
        report.cursor = max(since, newest - CURSOR_OVERLAP)
        await save_cursor(pool, report.cursor, report.profiles)
    log.info(
        "consent_poll_pass",
        pages=report.pages,
        profiles=report.profiles,
        new_rows=report.new_rows,
        complete=report.complete,
    )
    return report


def _next_params(next_link: Any) -> dict[str, Any] | None:
    if not isinstance(next_link, str) or not next_link:
        return None
    return dict(parse_qsl(urlsplit(next_link).query, keep_blank_values=True))
