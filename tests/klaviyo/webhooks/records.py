"""Inbox rows as Klaviyo's consent webhooks carry them, for tests of the apply step."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg.rows import dict_row

from app.klaviyo.webhooks.inbox import InboxRow, store_inbox_rows


def event_payload(
    *, profile_id: str, at: datetime, email: str | None = None, external_id: str | None = None
) -> dict[str, Any]:
    """An event resource as Get Event answers it, with its profile included."""
    return {
        "data": {
            "type": "event",
            "id": f"ev-{uuid.uuid4().hex[:10]}",
            "attributes": {"timestamp": int(at.timestamp()), "datetime": at.isoformat()},
            "relationships": {"profile": {"data": {"type": "profile", "id": profile_id}}},
        },
        "included": [
            {
                "type": "profile",
                "id": profile_id,
                "attributes": {"email": email, "external_id": external_id},
            }
        ],
    }


def consent_row(
    topic: str,
    at: datetime,
    *,
    profile_id: str = "01PROFILE",
    email: str | None = None,
    external_id: str | None = None,
    event_id: str | None = None,
) -> InboxRow:
    payload = event_payload(profile_id=profile_id, at=at, email=email, external_id=external_id)
    return InboxRow(
        external_id=event_id or f"ev-{uuid.uuid4().hex}",
        topic=topic,
        event_at=at,
        payload=msgspec.json.encode(payload).decode(),
        webhook_id="01WEBHOOK",
    )


async def store(conn: psycopg.AsyncConnection, *rows: InboxRow) -> int:
    return await store_inbox_rows(conn, rows)


async def state_of(conn: psycopg.AsyncConnection, customer_id: str) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """
            SELECT s.subscription_status, s.suppression_reason, s.pushed_consent,
                   s.consent_changed_at, s.suppression_changed_at, s.klaviyo_profile_id,
                   c.accepts_email_marketing, c.consent_updated_at
            FROM klaviyo.profile_state s JOIN core.customers c ON c.id = s.customer_id
            WHERE s.customer_id = %s
            """,
            (customer_id,),
        )
        row = await cur.fetchone()
    assert row is not None, f"no state row for {customer_id}"
    return row


async def inbox(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT external_id, topic, status, result, customer_id, applied_at "
            "FROM klaviyo.webhook_inbox ORDER BY id"
        )
        return await cur.fetchall()
