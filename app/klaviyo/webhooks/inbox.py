"""The webhook inbox: a verified delivery decoded and stored, one row per `data[]` item."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
import psycopg


class DeliveryItem(msgspec.Struct, frozen=True):
    topic: str
    external_id: str
    # Kept as the raw bytes Klaviyo sent: stored as-is, decoded only when applied.
    payload: msgspec.Raw


class DeliveryMeta(msgspec.Struct, frozen=True):
    klaviyo_webhook_id: str | None = None
    klaviyo_account_id: str | None = None
    timestamp: str | None = None


class Delivery(msgspec.Struct, frozen=True):
    data: list[DeliveryItem]
    meta: DeliveryMeta | None = None


class InboxRow(msgspec.Struct, frozen=True):
    """One item ready for the inbox; `payload` is JSON text."""

    external_id: str
    topic: str
    event_at: datetime
    payload: str
    webhook_id: str | None = None
    source: str = "webhook"


class MalformedDelivery(Exception):
    """The body is not JSON, or not a delivery Klaviyo sends; the message names what is wrong."""


class _EventAttributes(msgspec.Struct):
    datetime: str | None = None
    timestamp: float | None = None


class _EventData(msgspec.Struct):
    attributes: _EventAttributes | None = None


class _EventPayload(msgspec.Struct):
    data: _EventData | None = None


_delivery_decoder = msgspec.json.Decoder(Delivery)
_payload_decoder = msgspec.json.Decoder(_EventPayload)


def decode_delivery(body: bytes) -> Delivery:
    try:
        return _delivery_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise MalformedDelivery(f"The body is not a Klaviyo webhook delivery: {exc}") from None
    except msgspec.DecodeError as exc:
        raise MalformedDelivery(f"The body is not valid JSON: {exc}") from None


def event_time(payload: msgspec.Raw, fallback: datetime) -> datetime:
    """The event's own time (payload.data.attributes.datetime, else .timestamp), else fallback.

    Klaviyo's `timestamp` is whole seconds; `datetime` keeps the sub-second part, which orders
    two changes of the same second correctly.
    """
    try:
        attributes = _payload_decoder.decode(payload).data.attributes  # type: ignore[union-attr]
    except (msgspec.DecodeError, AttributeError):
        return fallback
    if attributes is None:
        return fallback
    if attributes.datetime:
        try:
            parsed = datetime.fromisoformat(attributes.datetime.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=fallback.tzinfo)
        except ValueError:
            pass
    if attributes.timestamp is not None:
        try:
            return datetime.fromtimestamp(attributes.timestamp, fallback.tzinfo)
        except (OverflowError, OSError, ValueError):
            pass
    return fallback


def inbox_rows(delivery: Delivery, webhook_id: str | None, received_at: datetime) -> list[InboxRow]:
    return [
        InboxRow(
            external_id=item.external_id,
            topic=item.topic,
            event_at=event_time(item.payload, received_at),
            payload=bytes(item.payload).decode(),
            webhook_id=webhook_id,
        )
        for item in delivery.data
    ]


_STORE_ROWS = """
INSERT INTO klaviyo.webhook_inbox (external_id, topic, webhook_id, event_at, payload, source)
SELECT external_id, topic, webhook_id, event_at, payload::jsonb, source
FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::text[], %s::text[])
     AS item(external_id, topic, webhook_id, event_at, payload, source)
ON CONFLICT (external_id) DO NOTHING
"""


async def store_inbox_rows(conn: psycopg.AsyncConnection, rows: Sequence[InboxRow]) -> int:
    """Inserts the rows not seen before; answers how many were new (a redelivery adds 0)."""
    if not rows:
        return 0
    cur = await conn.execute(
        _STORE_ROWS,
        (
            [r.external_id for r in rows],
            [r.topic for r in rows],
            [r.webhook_id for r in rows],
            [r.event_at for r in rows],
            [r.payload for r in rows],
            [r.source for r in rows],
        ),
    )
    return cur.rowcount
