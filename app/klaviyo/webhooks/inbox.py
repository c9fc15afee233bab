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


class _StoredItem(msgspec.Struct):
    """An InboxRow as PostgreSQL reads it (json_to_recordset): the payload embedded as is."""

    external_id: str
    topic: str
    webhook_id: str | None
    event_at: datetime
    payload: msgspec.Raw
    source: str


_json_encoder = msgspec.json.Encoder()


def rows_document(rows: Sequence[InboxRow]) -> str:
    """The rows as one JSON array: one parameter for any number of items, parsed by PostgreSQL
    (text arrays would have every payload escaped on the way in)."""
    document = _json_encoder.encode(
        [
            _StoredItem(
                r.external_id,
                r.topic,
                r.webhook_id,
                r.event_at,
                msgspec.Raw(r.payload.encode()),
                r.source,
            )
            for r in rows
        ]
    )
    return document.decode()


_ITEMS = """
SELECT external_id, topic, webhook_id, event_at, payload, source
FROM json_to_recordset(%(rows)s::json) AS item(
    external_id text, topic text, webhook_id text, event_at timestamptz, payload jsonb, source text
)
"""

_STORE_ROWS = f"""
INSERT INTO klaviyo.webhook_inbox (external_id, topic, webhook_id, event_at, payload, source)
{_ITEMS}
ON CONFLICT (external_id) DO NOTHING
"""


async def store_inbox_rows(conn: psycopg.AsyncConnection, rows: Sequence[InboxRow]) -> int:
    """Inserts the rows not seen before; answers how many were new (a redelivery adds 0)."""
    if not rows:
        return 0
    cur = await conn.execute(_STORE_ROWS, {"rows": rows_document(rows)})
    return cur.rowcount


# A verified delivery in one statement, so one round trip: stored only while the ingest switches
# are on and the secret it was verified with is still the stored one; the apply job enqueued
# with the rows, unless one is already waiting (the queueing lock of the task, as procrastinate
# would defer it; its insert trigger wakes the worker).
_STORE_DELIVERY = f"""
WITH ingest AS (
    SELECT sync_enabled AND webhook_ingest_enabled
           AND webhook_secret_encrypted = %(ciphertext)s AS current
    FROM klaviyo.settings WHERE singleton
),
stored AS (
    INSERT INTO klaviyo.webhook_inbox (external_id, topic, webhook_id, event_at, payload, source)
    SELECT item.* FROM ({_ITEMS}) item
    WHERE (SELECT current FROM ingest)
    ON CONFLICT (external_id) DO NOTHING
    RETURNING 1
),
apply_job AS (
    INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, args)
    SELECT 'default', %(apply_task)s, %(apply_lock)s, %(apply_lock)s, '{{}}'
    WHERE EXISTS (SELECT FROM stored)
      AND NOT EXISTS (
          SELECT FROM procrastinate_jobs
          WHERE queueing_lock = %(apply_lock)s AND status = 'todo'
      )
    ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING
)
SELECT coalesce((SELECT current FROM ingest), false), (SELECT count(*) FROM stored)
"""


async def store_delivery(
    conn: psycopg.AsyncConnection,
    rows: Sequence[InboxRow],
    *,
    ciphertext: bytes,
    apply_task: str,
    apply_lock: str,
) -> int | None:
    """Stores a delivery verified with the secret stored as `ciphertext` and asks for it to be
    applied. Answers how many rows were new, or None (nothing stored) when the switches or the
    secret are no longer what the delivery was checked against. `conn` is in autocommit."""
    cur = await conn.execute(
        _STORE_DELIVERY,
        {
            "ciphertext": ciphertext,
            "rows": rows_document(rows),
            "apply_task": apply_task,
            "apply_lock": apply_lock,
        },
    )
    current, new = await cur.fetchone()  # type: ignore[misc]
    return int(new) if current else None
