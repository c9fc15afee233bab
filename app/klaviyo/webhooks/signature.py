"""Verification of a Klaviyo webhook delivery before anything of its body is trusted."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

SIGNATURE_HEADER = "klaviyo-signature"
TIMESTAMP_HEADER = "klaviyo-timestamp"
WEBHOOK_ID_HEADER = "klaviyo-webhook-id"


class DeliveryRefused(Exception):
    """The delivery is not provably Klaviyo's; `reason` is a stable snake_case name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def expected_signature(secret: str, body: bytes, timestamp: str) -> str:
    """Lowercase hex HMAC-SHA256, keyed by the secret, of the raw body then the timestamp."""
    return hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def parse_timestamp(value: str) -> datetime:
    """Klaviyo-Timestamp as sent: an HTTP date (RFC 7231), ISO 8601, or epoch seconds."""
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    if text.replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(text), UTC)
    if text[0].isdigit():
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        parsed = parsedate_to_datetime(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def verify_signed_delivery(
    *,
    secret: str | None,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
    tolerance_s: float,
) -> datetime:
    """Checks signature and freshness; answers the delivery's timestamp or raises."""
    if not secret:
        raise DeliveryRefused("no_webhook_secret", "No webhook secret is configured.")
    if not signature or not timestamp:
        raise DeliveryRefused(
            "missing_signature_headers", "Klaviyo-Signature and Klaviyo-Timestamp are required."
        )
    wanted = expected_signature(secret, body, timestamp).encode()
    # Compared as bytes: a header may carry any character, and compare_digest refuses non-ASCII
    # text.
    if not hmac.compare_digest(wanted, signature.strip().lower().encode()):
        raise DeliveryRefused("bad_signature", "Klaviyo-Signature does not match the body.")
    try:
        sent_at = parse_timestamp(timestamp)
    except (ValueError, TypeError, OverflowError):
        raise DeliveryRefused(
            "bad_timestamp", "Klaviyo-Timestamp is not a date Klaviyo sends."
        ) from None
    if abs((now - sent_at).total_seconds()) > tolerance_s:
        raise DeliveryRefused(
            "stale_timestamp", f"Klaviyo-Timestamp is more than {tolerance_s:g}s from now."
        )
    return sent_at


def check_webhook_id(header_value: str | None, meta_value: object) -> None:
    """meta.klaviyo_webhook_id must name the webhook the header names."""
    if not header_value or not isinstance(meta_value, str):
        raise DeliveryRefused(
            "missing_webhook_id", "Klaviyo-Webhook-Id and meta.klaviyo_webhook_id are required."
        )
    if not hmac.compare_digest(header_value.encode(), meta_value.encode()):
        raise DeliveryRefused(
            "webhook_id_mismatch", "meta.klaviyo_webhook_id does not match Klaviyo-Webhook-Id."
        )
