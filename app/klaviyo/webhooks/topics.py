"""What an inbox row means for consent: its topic mapped to changes of the mirror."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

SUBSCRIBED_TOPIC = "event:klaviyo.subscribed_to_email_marketing"
UNSUBSCRIBED_TOPIC = "event:klaviyo.unsubscribed_from_email_marketing"
SUPPRESSED_TOPIC = "event:klaviyo.manually_suppressed_email"
UNSUPPRESSED_TOPIC = "event:klaviyo.manually_unsuppressed_email"
BOUNCED_TOPIC = "event:klaviyo.bounced_email"
SPAM_TOPIC = "event:klaviyo.marked_email_as_spam"
# Rows the polling fallback synthesises from a profile's e-mail marketing subscriptions.
POLLED_CONSENT_TOPIC = "poll:klaviyo.email_marketing_consent"

CONSENT_TOPICS = (
    SUBSCRIBED_TOPIC,
    UNSUBSCRIBED_TOPIC,
    SUPPRESSED_TOPIC,
    UNSUPPRESSED_TOPIC,
    BOUNCED_TOPIC,
    SPAM_TOPIC,
)

SuppressionReason = Literal["manually_suppressed", "bounced", "marked_as_spam"]
_SUPPRESSION_OF_TOPIC: dict[str, SuppressionReason] = {
    SUPPRESSED_TOPIC: "manually_suppressed",
    BOUNCED_TOPIC: "bounced",
    SPAM_TOPIC: "marked_as_spam",
}
# Klaviyo's suppression reasons in the profile's subscriptions; UNSUBSCRIBE is the consent itself.
_SUPPRESSION_OF_KLAVIYO_REASON: dict[str, SuppressionReason] = {
    "USER_SUPPRESSED": "manually_suppressed",
    "HARD_BOUNCE": "bounced",
    "INVALID_EMAIL": "bounced",
    "SPAM_COMPLAINT": "marked_as_spam",
}
# A new subscription lifts these in Klaviyo; a bounce stays.
LIFTED_BY_SUBSCRIBE: frozenset[str] = frozenset({"manually_suppressed", "marked_as_spam"})


class ProfileRef(msgspec.Struct, frozen=True):
    """How the change names the shopper; the mirror tries them in this order."""

    klaviyo_profile_id: str | None = None
    external_id: str | None = None
    email: str | None = None


class ConsentChange(msgspec.Struct, frozen=True):
    kind: Literal["consent", "suppress", "unsuppress"]
    at: datetime
    subscribed: bool | None = None
    reason: SuppressionReason | None = None


class Meaning(msgspec.Struct, frozen=True):
    profile: ProfileRef
    changes: tuple[ConsentChange, ...]


def meaning_of(topic: str, payload: dict[str, Any], event_at: datetime) -> Meaning | None:
    """None for a topic the mirror does not act on (stored, then ignored)."""
    if topic == POLLED_CONSENT_TOPIC:
        return _polled_meaning(payload, event_at)
    if topic == SUBSCRIBED_TOPIC or topic == UNSUBSCRIBED_TOPIC:
        change = ConsentChange("consent", event_at, subscribed=topic == SUBSCRIBED_TOPIC)
    elif topic in _SUPPRESSION_OF_TOPIC:
        change = ConsentChange("suppress", event_at, reason=_SUPPRESSION_OF_TOPIC[topic])
    elif topic == UNSUPPRESSED_TOPIC:
        change = ConsentChange("unsuppress", event_at)
    else:
        return None
    return Meaning(_event_profile(payload), (change,))


def _event_profile(payload: dict[str, Any]) -> ProfileRef:
    """The profile of an event resource (payload as Klaviyo's Get Event, with `included`)."""
    raw_data = payload.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    relation = ((data.get("relationships") or {}).get("profile") or {}).get("data") or {}
    profile_id = relation.get("id") if isinstance(relation.get("id"), str) else None
    email = external_id = None
    for resource in payload.get("included") or []:
        if isinstance(resource, dict) and resource.get("type") == "profile":
            if profile_id is None or resource.get("id") == profile_id:
                attributes = resource.get("attributes") or {}
                email, external_id = attributes.get("email"), attributes.get("external_id")
                profile_id = profile_id or resource.get("id")
                break
    if email is None:
        properties = (data.get("attributes") or {}).get("event_properties") or {}
        email = properties.get("$email") if isinstance(properties, dict) else None
    return ProfileRef(
        klaviyo_profile_id=profile_id,
        external_id=external_id if isinstance(external_id, str) else None,
        email=email if isinstance(email, str) else None,
    )


def _parse_time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=fallback.tzinfo)
        except ValueError:
            pass
    return fallback


def _polled_meaning(payload: dict[str, Any], event_at: datetime) -> Meaning:
    profile = payload.get("profile") or {}
    ref = ProfileRef(profile.get("id"), profile.get("external_id"), profile.get("email"))
    changes: list[ConsentChange] = []
    consent = payload.get("consent")
    if consent in ("SUBSCRIBED", "UNSUBSCRIBED"):
        at = _parse_time(payload.get("consent_at"), event_at)
        changes.append(ConsentChange("consent", at, subscribed=consent == "SUBSCRIBED"))
    active = [
        (_parse_time(s.get("timestamp"), event_at), _SUPPRESSION_OF_KLAVIYO_REASON[s["reason"]])
        for s in payload.get("suppressions") or []
        if isinstance(s, dict) and s.get("reason") in _SUPPRESSION_OF_KLAVIYO_REASON
    ]
    if active:
        at, reason = max(active)
        changes.append(ConsentChange("suppress", at, reason=reason))
    else:
        changes.append(ConsentChange("unsuppress", event_at))
    return Meaning(ref, tuple(changes))
