"""Signed webhook delivery: consent events go to every subscribed webhook, retried with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

import httpx
import structlog

from app.sandbox.jsonapi import encoder, iso
from app.sandbox.store import Account, Webhook

log = structlog.get_logger("app.sandbox.webhooks")

# Topics the sandbox emits, with the metric each one reports.
CONSENT_TOPICS: dict[str, str] = {
    "event:klaviyo.subscribed_to_email_marketing": "Subscribed to Email Marketing",
    "event:klaviyo.unsubscribed_from_email_marketing": "Unsubscribed from Email Marketing",
    "event:klaviyo.manually_suppressed_email": "Manually Suppressed Email",
    "event:klaviyo.manually_unsuppressed_email": "Manually Unsuppressed Email",
    "event:klaviyo.bounced_email": "Bounced Email",
    "event:klaviyo.marked_email_as_spam": "Marked Email as Spam",
}


def sign(secret: str, body: bytes, timestamp: str) -> str:
    """Lowercase hex HMAC-SHA256 over the raw body followed by the timestamp header value."""
    return hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


class Delivery:
    __slots__ = (
        "webhook_id",
        "account_id",
        "topic",
        "external_id",
        "url",
        "secret",
        "body",
        "timestamp",
        "attempts",
        "statuses",
        "state",
    )

    def __init__(
        self,
        webhook: Webhook,
        account: Account,
        topic: str,
        external_id: str,
        payload: dict[str, Any],
    ) -> None:
        self.webhook_id = webhook.id
        self.account_id = account.id
        self.topic = topic
        self.external_id = external_id
        self.url = webhook.endpoint_url
        self.secret = webhook.secret_key
        self.timestamp = iso(time.time()) or ""
        entry = {"topic": topic, "external_id": external_id, "payload": payload}
        meta = {
            "klaviyo_webhook_id": webhook.id,
            "klaviyo_account_id": account.id,
            "timestamp": self.timestamp,
        }
        # Built once: every redelivery carries the same bytes and the same external_id.
        self.body = encoder.encode({"data": [entry], "meta": meta})
        self.attempts = 0
        self.statuses: list[int | str] = []
        self.state = "pending"

    def describe(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "topic": self.topic,
            "external_id": self.external_id,
            "endpoint_url": self.url,
            "attempts": self.attempts,
            "statuses": list(self.statuses),
            "state": self.state,
        }


class WebhookDispatcher:
    """Sends deliveries from background tasks so API requests never wait on a receiver."""

    def __init__(self, retry_delays_s: tuple[float, ...], timeout_s: float) -> None:
        self.retry_delays_s = retry_delays_s
        self.timeout_s = timeout_s
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout_s)

    async def stop(self) -> None:
        self.reset()
        if self._client is not None:
            await self._client.aclose()

    def reset(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self.deliveries = []

    def publish(self, account: Account, topic: str, external_id: str, payload: dict) -> int:
        """Queue one delivery per enabled webhook of the account subscribed to the topic."""
        sent = 0
        for webhook in account.webhooks.values():
            if not webhook.enabled or topic not in webhook.topics:
                continue
            delivery = Delivery(webhook, account, topic, external_id, payload)
            self.deliveries.append(delivery)
            task = asyncio.get_running_loop().create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            sent += 1
        return sent

    async def _deliver(self, delivery: Delivery) -> None:
        assert self._client is not None
        headers = {
            "Content-Type": "application/json",
            "Klaviyo-Webhook-Id": delivery.webhook_id,
            "Klaviyo-Timestamp": delivery.timestamp,
            "Klaviyo-Signature": sign(delivery.secret, delivery.body, delivery.timestamp),
        }
        while True:
            delivery.attempts += 1
            try:
                response = await self._client.post(
                    delivery.url, content=delivery.body, headers=headers
                )
                outcome: int | str = response.status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            delivery.statuses.append(outcome)
            if isinstance(outcome, int) and 200 <= outcome < 300:
                delivery.state = "delivered"
                log.info(
                    "sandbox_webhook_delivered",
                    topic=delivery.topic,
                    attempt=delivery.attempts,
                    webhook_id=delivery.webhook_id,
                )
                return
            if delivery.attempts > len(self.retry_delays_s):
                delivery.state = "failed"
                log.warning(
                    "sandbox_webhook_abandoned",
                    topic=delivery.topic,
                    attempt=delivery.attempts,
                    outcome=outcome,
                )
                return
            log.info(
                "sandbox_webhook_retry",
                topic=delivery.topic,
                attempt=delivery.attempts,
                outcome=outcome,
            )
            await asyncio.sleep(self.retry_delays_s[delivery.attempts - 1])

    def counts(self) -> dict[str, int]:
        states = {"pending": 0, "delivered": 0, "failed": 0}
        for delivery in self.deliveries:
            states[delivery.state] += 1
        return states
