"""Event payloads: an outbox row as Klaviyo's event resource (POST /api/events, bulk jobs).

An outbox row holds money as integer minor units: `value_cents` and any property whose name ends
in `_cents`. They become Klaviyo amounts here, at push time, with the currency's own exponent
(`ItemPrice_cents: 1999` in USD → `ItemPrice: 19.99`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from app.klaviyo.payloads.money import minor_to_amount

CENTS_SUFFIX = "_cents"

# The outbox columns the builders read; the drain selects them (plus its own bookkeeping).
EVENT_PAYLOAD_COLUMNS = (
    "idempotency_key",
    "unique_id",
    "metric_name",
    "customer_id",
    "email",
    "profile",
    "properties",
    "value_cents",
    "value_currency",
    "occurred_at",
    "backfill",
)


class EventPayloadError(ValueError):
    """An outbox row that cannot be turned into a Klaviyo event; the message names the row."""


def event_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes of the `event` resource for POST /api/events, profile included."""
    attributes = bulk_event_attributes(row)
    attributes["profile"] = {"data": event_profile(row)}
    return attributes


def event_create_body(row: Mapping[str, Any]) -> dict[str, Any]:
    """The whole POST /api/events request body for one row."""
    return {"data": {"type": "event", "attributes": event_attributes(row)}}


def bulk_event_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes of one event inside an event-bulk-create entry (the profile sits outside)."""
    currency = row.get("value_currency")
    key = row["idempotency_key"]
    attributes: dict[str, Any] = {
        "properties": push_properties(_json(row.get("properties")), currency, key),
        "time": iso_time(row["occurred_at"]),
        "unique_id": row.get("unique_id") or key,
        "metric": {"data": {"type": "metric", "attributes": {"name": row["metric_name"]}}},
        "backfill": bool(row.get("backfill")),
    }
    if row.get("value_cents") is not None:
        if not currency:
            raise EventPayloadError(f"event {key} has value_cents but no value_currency")
        attributes["value"] = minor_to_amount(row["value_cents"], currency)
        attributes["value_currency"] = currency
    return attributes


def event_profile(row: Mapping[str, Any]) -> dict[str, Any]:
    """The `profile` resource the event is attached to, from the identifiers frozen in the row."""
    identifiers = dict(_json(row.get("profile")))
    if row.get("customer_id") and "external_id" not in identifiers:
        identifiers["external_id"] = row["customer_id"]
    if row.get("email") and "email" not in identifiers:
        identifiers["email"] = row["email"]
    if not identifiers:
        raise EventPayloadError(f"event {row['idempotency_key']} names no profile")
    return {"type": "profile", "attributes": identifiers}


def events_bulk_create_job(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, Any], list[list[int]]]:
    """The body of POST /api/event-bulk-create-jobs for `rows`, one entry per profile.

    Also answers where each row went: `positions[i][j]` is the index in `rows` of event `j` of
    entry `i`, so an error pointer `/data/attributes/events-bulk-create/data/i/attributes/events/
    data/j/...` names its row.
    """
    entries: list[dict[str, Any]] = []
    positions: list[list[int]] = []
    entry_of_profile: dict[str, int] = {}
    for index, row in enumerate(rows):
        profile = event_profile(row)
        identity = json.dumps(profile["attributes"], sort_keys=True)
        slot = entry_of_profile.get(identity)
        if slot is None:
            slot = entry_of_profile[identity] = len(entries)
            entries.append(
                {
                    "type": "event-bulk-create",
                    "attributes": {"profile": {"data": profile}, "events": {"data": []}},
                }
            )
            positions.append([])
        event = {"type": "event", "attributes": bulk_event_attributes(row)}
        entries[slot]["attributes"]["events"]["data"].append(event)
        positions[slot].append(index)
    body = {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {"events-bulk-create": {"data": entries}},
        }
    }
    return body, positions


def push_properties(properties: Any, currency: str | None, key: str = "?") -> Any:
    """Properties as Klaviyo gets them: every `<Name>_cents` integer becomes `<Name>` in the
    currency's units, at any depth (Items[].ItemPrice_cents too)."""
    if isinstance(properties, Mapping):
        converted: dict[str, Any] = {}
        for name, value in properties.items():
            if _is_minor_amount(name, value):
                if not currency:
                    raise EventPayloadError(f"event {key} has {name} but no value_currency")
                converted[name[: -len(CENTS_SUFFIX)]] = minor_to_amount(value, currency)
            else:
                converted[name] = push_properties(value, currency, key)
        return converted
    if isinstance(properties, list):
        return [push_properties(item, currency, key) for item in properties]
    return properties


def iso_time(value: datetime | str) -> str:
    """ISO-8601 with an offset; a naive time is taken as UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _is_minor_amount(name: str, value: Any) -> bool:
    return name.endswith(CENTS_SUFFIX) and isinstance(value, int) and not isinstance(value, bool)


def _json(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value
