"""Events: single and bulk creation with Klaviyo's validation and dedup, and event reads."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from itertools import islice
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from msgspec import UNSET, Struct, UnsetType, field

from app.sandbox.identity import (
    EventProfileAttributes,
    ProfileMeta,
    apply_meta,
    check_identifiers,
    given_identifiers,
    resolve_for_event,
)
from app.sandbox.jsonapi import (
    ApiError,
    accepted_empty,
    check_type,
    decode_body,
    decode_seq,
    document,
    encode_seq,
    encoder,
    invalid,
    iso,
    next_link,
    page_cursor,
    page_size,
    self_link,
)
from app.sandbox.runtime import account_of, read_body, runtime_of
from app.sandbox.store import Account, Event, Profile
from app.sandbox.webhooks import CONSENT_TOPICS

MAX_METRIC_NAME = 128
MAX_PROPERTIES = 400
MAX_BULK_EVENTS = 1000
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024
MAX_STRING_BYTES = 100 * 1024
EARLIEST = datetime(1990, 1, 1).timestamp()
YEAR_S = 366 * 86400


class MetricAttributes(Struct, forbid_unknown_fields=True):
    name: str
    service: str | None | UnsetType = UNSET


class MetricData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: MetricAttributes


class MetricRef(Struct, forbid_unknown_fields=True):
    data: MetricData


class EventProfileData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: EventProfileAttributes
    id: str | None | UnsetType = UNSET


class BulkProfileData(EventProfileData):
    meta: ProfileMeta | UnsetType = UNSET


class EventProfileRef(Struct, forbid_unknown_fields=True):
    data: EventProfileData


class BulkProfileRef(Struct, forbid_unknown_fields=True):
    data: BulkProfileData


class BulkEventAttributes(Struct, forbid_unknown_fields=True):
    properties: dict[str, Any]
    metric: MetricRef
    time: str | None | UnsetType = UNSET
    value: float | None | UnsetType = UNSET
    value_currency: str | None | UnsetType = UNSET
    unique_id: str | None | UnsetType = UNSET
    backfill: bool | None | UnsetType = UNSET


class EventAttributes(BulkEventAttributes, kw_only=True):
    profile: EventProfileRef


class EventData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: EventAttributes


class CreateEventBody(Struct, forbid_unknown_fields=True):
    data: EventData


class BulkEventData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: BulkEventAttributes


class BulkEvents(Struct, forbid_unknown_fields=True):
    data: list[BulkEventData]


class BulkEntryAttributes(Struct, forbid_unknown_fields=True):
    profile: BulkProfileRef
    events: BulkEvents
    backfill: bool | None | UnsetType = UNSET


class BulkEntry(Struct, forbid_unknown_fields=True):
    type: str
    attributes: BulkEntryAttributes


class BulkList(Struct, forbid_unknown_fields=True):
    data: list[BulkEntry]


class BulkJobAttributes(Struct, forbid_unknown_fields=True):
    events_bulk_create: BulkList = field(name="events-bulk-create")


class BulkJobData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: BulkJobAttributes


class BulkJobBody(Struct, forbid_unknown_fields=True):
    data: BulkJobData


class PlannedEvent(Struct):
    """A validated event, ready to store once its profile is resolved."""

    metric: str
    service: str | None
    timestamp: float
    unique_id: str | None
    value: float | None
    value_currency: str | None
    properties: bytes


def plan_event(attrs: BulkEventAttributes, pointer: str, now: float) -> PlannedEvent:
    """Klaviyo's per-event rules; the pointer names the offending field."""
    metric = attrs.metric.data
    check_type(metric.type, "metric", f"{pointer}/metric/data/type")
    name = metric.attributes.name
    if not name.strip():
        raise invalid(
            "The metric name must not be blank.", f"{pointer}/metric/data/attributes/name"
        )
    if len(name) >= MAX_METRIC_NAME:
        raise invalid(
            f"The metric name must be fewer than {MAX_METRIC_NAME} characters.",
            f"{pointer}/metric/data/attributes/name",
        )
    timestamp = now
    if isinstance(attrs.time, str):
        try:
            parsed = datetime.fromisoformat(attrs.time.replace("Z", "+00:00"))
        except ValueError:
            raise invalid(f"'{attrs.time}' is not a valid datetime.", f"{pointer}/time") from None
        timestamp = parsed.timestamp()
        if timestamp < EARLIEST or timestamp > now + YEAR_S:
            raise invalid(
                "Event time must be after 1990-01-01 and at most one year from now.",
                f"{pointer}/time",
            )
    if len(attrs.properties) > MAX_PROPERTIES:
        raise invalid(
            f"An event may have at most {MAX_PROPERTIES} properties.", f"{pointer}/properties"
        )
    properties = encoder.encode(attrs.properties)
    if len(properties) > MAX_STRING_BYTES:
        _check_strings(attrs.properties, f"{pointer}/properties")
    return PlannedEvent(
        name,
        metric.attributes.service if isinstance(metric.attributes.service, str) else None,
        timestamp,
        attrs.unique_id if isinstance(attrs.unique_id, str) else None,
        attrs.value if isinstance(attrs.value, float | int) else None,
        attrs.value_currency if isinstance(attrs.value_currency, str) else None,
        properties,
    )


def _check_strings(value: Any, pointer: str) -> None:
    if isinstance(value, str) and len(value.encode()) > MAX_STRING_BYTES:
        raise invalid("A single string may not exceed 100 KB.", pointer)
    if isinstance(value, dict):
        for key, item in value.items():
            _check_strings(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{pointer}/{index}")


def check_event_profile(account: Account, data: EventProfileData, pointer: str) -> None:
    check_type(data.type, "profile", f"{pointer}/type")
    check_identifiers(data.attributes, f"{pointer}/attributes")
    has_id = isinstance(data.id, str) and data.id
    if not has_id and not given_identifiers(data.attributes):
        raise invalid(
            "The profile needs at least one identifier: id, email, phone_number, "
            "external_id or anonymous_id.",
            f"{pointer}/attributes",
        )
    if has_id and data.id not in account.profiles:
        raise invalid(f"A profile with id {data.id} does not exist.", f"{pointer}/id")


def store_event(account: Account, profile: Profile, planned: PlannedEvent) -> Event | None:
    """Store one event unless (profile, metric, unique_id or second) was already seen."""
    metric = account.metric_named(planned.metric, planned.service, planned.timestamp)
    dedup = planned.unique_id if planned.unique_id is not None else int(planned.timestamp)
    key = (profile.id, metric.id, dedup)
    if key in account.event_keys:
        return None
    account.event_keys.add(key)
    event = Event(
        len(account.events),
        profile.id,
        metric.id,
        planned.timestamp,
        planned.unique_id,
        planned.value,
        planned.value_currency,
        planned.properties,
    )
    account.events.append(event)
    account.events_per_metric[metric.name] = account.events_per_metric.get(metric.name, 0) + 1
    if profile.last_event_date is None or planned.timestamp > profile.last_event_date:
        profile.last_event_date = planned.timestamp
    return event


def event_id(event: Event) -> str:
    return encode_seq("ev", event.seq)


def event_uuid(event: Event) -> str:
    return str(uuid.UUID(int=event.seq + 1))


def event_resource(base_url: str, event: Event) -> dict[str, Any]:
    properties = msgspec.json.decode(event.properties)
    if event.value is not None:
        properties.setdefault("$value", event.value)
    eid = event_id(event)
    return {
        "type": "event",
        "id": eid,
        "attributes": {
            "timestamp": int(event.timestamp),
            "event_properties": properties,
            "datetime": iso(event.timestamp),
            "uuid": event_uuid(event),
        },
        "relationships": {
            "profile": {"data": {"type": "profile", "id": event.profile_id}},
            "metric": {"data": {"type": "metric", "id": event.metric_id}},
        },
        "links": {"self": f"{base_url}/api/events/{eid}/"},
    }


def consent_event_payload(
    account: Account, profile: Profile, topic: str, action: str, base_url: str, now: float
) -> tuple[str, dict[str, Any]]:
    """Record the consent change as Klaviyo's own event and build the webhook payload."""
    planned = PlannedEvent(
        CONSENT_TOPICS[topic],
        "klaviyo",
        now,
        str(uuid.uuid4()),
        None,
        None,
        encoder.encode({"action": action, "method": profile.email_method}),
    )
    event = store_event(account, profile, planned)
    assert event is not None  # a fresh unique_id never collides
    metric = account.metrics_by_id[event.metric_id]
    included = [
        {
            "type": "profile",
            "id": profile.id,
            "attributes": {
                "email": profile.email,
                "phone_number": profile.phone_number,
                "external_id": profile.external_id,
            },
        },
        {
            "type": "metric",
            "id": metric.id,
            "attributes": {
                "name": metric.name,
                "created": iso(metric.created),
                "updated": iso(metric.created),
                "integration": {"object": "integration", "name": "Klaviyo", "category": "Internal"},
            },
        },
    ]
    return event_id(event), {"data": event_resource(base_url, event), "included": included}


@post("/api/events", opt={"operation": "create_event"})
async def create_event(request: Request) -> Response:
    account = account_of(request)
    raw = await read_body(request)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ApiError(413, "request_too_large", "The payload may not exceed 5 MB.")
    body = decode_body(raw, CreateEventBody)
    check_type(body.data.type, "event")
    attrs = body.data.attributes
    planned = plan_event(attrs, "/data/attributes", time.time())
    profile_data = attrs.profile.data
    check_event_profile(account, profile_data, "/data/attributes/profile/data")
    profile = resolve_for_event(account, profile_data.id or None, profile_data.attributes)
    store_event(account, profile, planned)
    return accepted_empty()


@post("/api/event-bulk-create-jobs", opt={"operation": "bulk_create_events"})
async def bulk_create_events(request: Request) -> Response:
    runtime, account = runtime_of(request), account_of(request)
    raw = await read_body(request)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ApiError(413, "request_too_large", "The payload may not exceed 5 MB.")
    body = decode_body(raw, BulkJobBody)
    check_type(body.data.type, "event-bulk-create-job")
    entries = body.data.attributes.events_bulk_create.data
    plans = _plan_bulk(account, entries, time.time())

    def work(job: Any) -> None:
        for profile_data, planned_events in plans:
            profile = resolve_for_event(account, profile_data.id or None, profile_data.attributes)
            apply_meta(profile, profile_data.meta)
            for planned in planned_events:
                stored = store_event(account, profile, planned)
                job.completed_count += stored is not None
                job.skipped_count += stored is None

    total = sum(len(events) for _, events in plans)
    stalled = runtime.faults.match("POST", request.url.path, ("stall_jobs",)) is not None
    cancelled = runtime.faults.match("POST", request.url.path, ("cancel_jobs",)) is not None
    runtime.jobs.submit("event-bulk-create-job", account, total, work, stalled, cancelled=cancelled)
    return accepted_empty()


def _plan_bulk(account: Account, entries: list[BulkEntry], now: float) -> list[tuple]:
    """Validate the whole request up front: one bad event fails it, with a pointer to it."""
    base = "/data/attributes/events-bulk-create/data"
    total = sum(len(entry.attributes.events.data) for entry in entries)
    if total > MAX_BULK_EVENTS:
        raise invalid(f"At most {MAX_BULK_EVENTS} events may be sent per request.", base)
    seen_unique: set[str] = set()
    plans = []
    for i, entry in enumerate(entries):
        check_type(entry.type, "event-bulk-create", f"{base}/{i}/type")
        profile_data = entry.attributes.profile.data
        check_event_profile(account, profile_data, f"{base}/{i}/attributes/profile/data")
        planned_events = []
        for j, event in enumerate(entry.attributes.events.data):
            pointer = f"{base}/{i}/attributes/events/data/{j}"
            check_type(event.type, "event", f"{pointer}/type")
            planned = plan_event(event.attributes, f"{pointer}/attributes", now)
            if planned.unique_id is not None:
                if planned.unique_id in seen_unique:
                    raise invalid(
                        f"The unique_id '{planned.unique_id}' is repeated in this request.",
                        f"{pointer}/attributes/unique_id",
                    )
                seen_unique.add(planned.unique_id)
            planned_events.append(planned)
        plans.append((profile_data, planned_events))
    return plans


def find_event(account: Account, eid: str) -> Event:
    seq = decode_seq("ev", eid)
    if seq is None or not 0 <= seq < len(account.events):
        raise ApiError(404, "not_found", f"An event with id {eid} does not exist.")
    return account.events[seq]


@get("/api/events/{eid:str}", opt={"operation": "get_event"})
async def get_event(request: Request, eid: FromPath[str]) -> Response:
    resource = event_resource(
        str(request.base_url).rstrip("/"), find_event(account_of(request), eid)
    )
    return document({"data": resource, "links": resource["links"]})


@get("/api/events", opt={"operation": "get_events"})
async def list_events(request: Request) -> Response:
    account = account_of(request)
    size = page_size(request, 200, 1000)
    offset = page_cursor(request)
    wanted = _event_filter(request.query_params.get("filter", ""))
    # One more than the page tells whether there is a next page; nothing past it is looked at.
    if wanted:
        matches = (
            e
            for e in account.events
            if all(getattr(e, name) == value for name, value in wanted.items())
        )
        page = list(islice(matches, offset, offset + size + 1))
    else:
        page = account.events[offset : offset + size + 1]
    more = len(page) > size
    page = page[:size]
    base_url = str(request.base_url).rstrip("/")
    links: dict[str, str | None] = {"self": self_link(request, "/api/events/"), "next": None}
    if more:
        links["next"] = next_link(request, offset + size)
    return document({"data": [event_resource(base_url, e) for e in page], "links": links})


def _event_filter(raw: str) -> dict[str, str]:
    """equals(profile_id,"…") and equals(metric_id,"…"), alone or joined with and(…)."""
    raw = raw.strip()
    if not raw:
        return {}
    if raw.startswith("and(") and raw.endswith(")"):
        raw = raw[4:-1]
    wanted = {}
    for clause in raw.replace("),", ")\n").split("\n"):
        clause = clause.strip()
        ok = clause.startswith("equals(") and clause.endswith(")") and "," in clause
        name, _, value = clause[7:-1].partition(",") if ok else ("", "", "")
        value = value.strip().strip("\"'")
        if name.strip() not in ("profile_id", "metric_id") or not value:
            raise ApiError(
                400,
                "invalid",
                f"Invalid filter: '{raw}'. Supported: equals on profile_id or metric_id.",
                parameter="filter",
            )
        wanted[name.strip()] = value
    return wanted


ROUTES = [create_event, bulk_create_events, get_event, list_events]
