"""Shared steps of the end-to-end webhook tests: sandbox profiles, inbox reads, re-signing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from app.klaviyo.webhooks.apply import apply_pending
from app.klaviyo.webhooks.signature import expected_signature
from app.store.customers import create_customer
from tests.fixtures.webhooks import CapturedRequest, wait_until


def sandbox_profile(sandbox: Any, email: str, external_id: str) -> str:
    """A Klaviyo profile in the sandbox for the store customer; answers its id."""
    response = sandbox.api.post(
        "/api/profile-import",
        json={
            "data": {
                "type": "profile",
                "attributes": {"email": email, "external_id": external_id},
            }
        },
    )
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]["id"]


async def customer_with_profile(
    conn: psycopg.AsyncConnection,
    sandbox: Any,
    email: str,
    subscribed: bool = False,
    consent_at: datetime | None = None,
) -> tuple[str, str]:
    customer = await create_customer(
        conn, email=email, accepts_email_marketing=subscribed, consent_updated_at=consent_at
    )
    return customer, sandbox_profile(sandbox, email, customer)


async def inbox_count(conn: psycopg.AsyncConnection) -> int:
    cur = await conn.execute("SELECT count(*) FROM klaviyo.webhook_inbox")
    return (await cur.fetchone())[0]


async def wait_for_inbox(conn: psycopg.AsyncConnection, count: int, within_s: float = 5.0) -> None:
    async def enough() -> bool:
        return await inbox_count(conn) >= count

    await wait_until(enough, within_s)


async def consent_change(
    conn: psycopg.AsyncConnection, pool: Any, sandbox: Any, profile_id: str, action: str
) -> None:
    """A consent action made in Klaviyo, delivered by its webhook, then applied."""
    before = await inbox_count(conn)
    assert sandbox.consent(profile_id, action)["topic"], f"{action} changed nothing"
    await wait_for_inbox(conn, before + 1)
    await apply_pending(pool)


def resigned(
    captured: CapturedRequest,
    secret: str,
    *,
    body: bytes | None = None,
    timestamp: str | None = None,
    **headers: str,
) -> tuple[bytes, dict[str, str]]:
    """The captured request with another body or timestamp, signed again with `secret`."""
    body = captured.body if body is None else body
    timestamp = timestamp or datetime.now(UTC).isoformat()
    signed = {
        "content-type": "application/json",
        "klaviyo-webhook-id": captured.headers["klaviyo-webhook-id"],
        "klaviyo-timestamp": timestamp,
        "klaviyo-signature": expected_signature(secret, body, timestamp),
    }
    signed.update({k.replace("_", "-"): v for k, v in headers.items()})
    return body, signed


def replay_headers(captured: CapturedRequest) -> dict[str, str]:
    keep = ("content-type", "klaviyo-webhook-id", "klaviyo-timestamp", "klaviyo-signature")
    return {k: captured.headers[k] for k in keep}
