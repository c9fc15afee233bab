"""In-memory state of each sandbox account: compact records and the indices that find them."""

from __future__ import annotations

import hashlib
from typing import Any

from app.sandbox.jsonapi import short_id

NEVER_SUBSCRIBED = "NEVER_SUBSCRIBED"


class Profile:
    """One profile; consent fields live inline so a million profiles stay compact."""

    __slots__ = (
        "id",
        "email",
        "phone_number",
        "external_id",
        "anonymous_id",
        "first_name",
        "last_name",
        "organization",
        "locale",
        "title",
        "image",
        "location",
        "properties",
        "created",
        "updated",
        "last_event_date",
        "email_consent",
        "email_consent_ts",
        "email_method",
        "email_method_detail",
        "email_custom_method_detail",
        "email_last_updated",
        "email_suppressions",
        "sms_consent",
        "sms_consent_ts",
        "sms_transactional",
    )

    def __init__(self, profile_id: str, now: float) -> None:
        self.id = profile_id
        self.email: str | None = None
        self.phone_number: str | None = None
        self.external_id: str | None = None
        self.anonymous_id: str | None = None
        self.first_name: str | None = None
        self.last_name: str | None = None
        self.organization: str | None = None
        self.locale: str | None = None
        self.title: str | None = None
        self.image: str | None = None
        self.location: dict[str, Any] | None = None
        self.properties: dict[str, Any] | None = None
        self.created = self.updated = now
        self.last_event_date: float | None = None
        self.email_consent = NEVER_SUBSCRIBED
        self.email_consent_ts: float | None = None
        self.email_method: str | None = None
        self.email_method_detail: str | None = None
        self.email_custom_method_detail: str | None = None
        self.email_last_updated: float | None = None
        # Each suppression is (reason, timestamp); None until the first one.
        self.email_suppressions: list[tuple[str, float]] | None = None
        self.sms_consent = NEVER_SUBSCRIBED
        self.sms_consent_ts: float | None = None
        self.sms_transactional = NEVER_SUBSCRIBED


class Event:
    """One stored event; properties are kept as encoded JSON bytes to save memory."""

    __slots__ = (
        "seq",
        "profile_id",
        "metric_id",
        "timestamp",
        "unique_id",
        "value",
        "value_currency",
        "properties",
    )

    def __init__(
        self,
        seq: int,
        profile_id: str,
        metric_id: str,
        timestamp: float,
        unique_id: str | None,
        value: float | None,
        value_currency: str | None,
        properties: bytes,
    ) -> None:
        self.seq = seq
        self.profile_id = profile_id
        self.metric_id = metric_id
        self.timestamp = timestamp
        self.unique_id = unique_id
        self.value = value
        self.value_currency = value_currency
        self.properties = properties


class Metric:
    __slots__ = ("id", "name", "service", "created")

    def __init__(self, metric_id: str, name: str, service: str | None, created: float) -> None:
        self.id = metric_id
        self.name = name
        self.service = service
        self.created = created


class Resource:
    """A catalog item, variant or category, a coupon or a coupon code: attributes plus links."""

    __slots__ = ("id", "attributes", "created", "updated", "links")

    def __init__(self, resource_id: str, attributes: dict[str, Any], now: float) -> None:
        self.id = resource_id
        self.attributes = attributes
        self.created = self.updated = now
        # Related ids by relationship name, e.g. {"categories": {...}} on an item.
        self.links: dict[str, set[str]] = {}


class Webhook:
    __slots__ = (
        "id",
        "name",
        "description",
        "endpoint_url",
        "secret_key",
        "topics",
        "enabled",
        "created_at",
        "updated_at",
    )

    def __init__(
        self,
        webhook_id: str,
        name: str,
        endpoint_url: str,
        secret_key: str,
        topics: tuple[str, ...],
        now: float,
        description: str | None = None,
    ) -> None:
        self.id = webhook_id
        self.name = name
        self.description = description
        self.endpoint_url = endpoint_url
        self.secret_key = secret_key
        self.topics = topics
        self.enabled = True
        self.created_at = self.updated_at = now


def identity_key(field: str, value: str) -> str:
    """How an identifier is matched: e-mail addresses regardless of case, as Klaviyo does
    (`Ada@Example.com` and `ada@example.com` are one profile); the others exactly."""
    return value.lower() if field == "email" else value


class Account:
    """Everything one API key owns; keys never share state or rate budget."""

    def __init__(self, api_key: str) -> None:
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        # Stable per key so ids survive a reset, like a real account's.
        self.id = "".join(c for c in digest if c.isalnum())[:6].upper()
        self.reset()

    def reset(self) -> None:
        self.profiles: dict[str, Profile] = {}
        # Keyed by `identity_key`: e-mail addresses in lower case.
        self.by_email: dict[str, Profile] = {}
        self.by_phone: dict[str, Profile] = {}
        self.by_external_id: dict[str, Profile] = {}
        self.by_anonymous_id: dict[str, Profile] = {}
        self.profile_order: list[str] = []
        self.events: list[Event] = []
        self.event_keys: set[tuple[str, str, str | int]] = set()
        self.metrics: dict[str, Metric] = {}
        self.metrics_by_id: dict[str, Metric] = {}
        self.events_per_metric: dict[str, int] = {}
        self.items: dict[str, Resource] = {}
        self.variants: dict[str, Resource] = {}
        self.categories: dict[str, Resource] = {}
        self.coupons: dict[str, Resource] = {}
        self.coupon_codes: dict[str, Resource] = {}
        self.webhooks: dict[str, Webhook] = {}

    def index_identifier(self, profile: Profile, field: str, value: str | None) -> None:
        """Set one identifier on a profile and keep the matching index in step."""
        index = self._index(field)
        old = getattr(profile, field)
        if old is not None and index.get(identity_key(field, old)) is profile:
            del index[identity_key(field, old)]
        setattr(profile, field, value)
        if value is not None:
            index[identity_key(field, value)] = profile

    def _index(self, field: str) -> dict[str, Profile]:
        return {
            "email": self.by_email,
            "phone_number": self.by_phone,
            "external_id": self.by_external_id,
            "anonymous_id": self.by_anonymous_id,
        }[field]

    def find_by(self, field: str, value: str) -> Profile | None:
        if field == "id":
            return self.profiles.get(value)
        return self._index(field).get(identity_key(field, value))

    def add_profile(self, profile: Profile) -> None:
        self.profiles[profile.id] = profile
        self.profile_order.append(profile.id)

    def metric_named(self, name: str, service: str | None, now: float) -> Metric:
        metric = self.metrics.get(name)
        if metric is None:
            metric = Metric(short_id(), name, service, now)
            self.metrics[name] = metric
            self.metrics_by_id[metric.id] = metric
        return metric

    def counts(self) -> dict[str, Any]:
        return {
            "profiles": len(self.profiles),
            "events": len(self.events),
            "events_per_metric": dict(self.events_per_metric),
            "catalog_items": len(self.items),
            "catalog_variants": len(self.variants),
            "catalog_categories": len(self.categories),
            "coupons": len(self.coupons),
            "coupon_codes": len(self.coupon_codes),
            "webhooks": len(self.webhooks),
        }
