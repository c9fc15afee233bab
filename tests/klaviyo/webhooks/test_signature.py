"""Delivery verification as pure logic: signature, timestamp formats, window, webhook id."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from app.klaviyo.webhooks.signature import (
    DeliveryRefused,
    check_webhook_id,
    expected_signature,
    parse_timestamp,
    verify_signed_delivery,
)

NOW = datetime(2026, 4, 14, 3, 50, 12, tzinfo=UTC)
SECRET = "a-webhook-secret-of-some-length"
BODY = b'{"data":[],"meta":{"klaviyo_webhook_id":"01W"}}'


def _verify(**overrides):
    timestamp = overrides.pop("timestamp", NOW.isoformat())
    params = {
        "secret": SECRET,
        "body": BODY,
        "signature": expected_signature(SECRET, BODY, timestamp),
        "timestamp": timestamp,
        "now": NOW,
        "tolerance_s": 300.0,
    }
    return verify_signed_delivery(**{**params, **overrides})


def test_signature_is_hmac_sha256_of_body_then_timestamp():
    independent = hmac.new(SECRET.encode(), BODY + b"1776138612", hashlib.sha256).hexdigest()
    assert expected_signature(SECRET, BODY, "1776138612") == independent


@pytest.mark.parametrize(
    "value",
    [
        "Tue, 14 Apr 2026 03:50:12 GMT",
        "2026-04-14T03:50:12+00:00",
        "2026-04-14T03:50:12Z",
        "1776138612",
    ],
)
def test_every_timestamp_form_klaviyo_sends_is_understood(value):
    assert parse_timestamp(value) == NOW
    assert _verify(timestamp=value) == NOW


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"secret": None}, "no_webhook_secret"),
        ({"signature": None}, "missing_signature_headers"),
        ({"signature": "0" * 64}, "bad_signature"),
        ({"signature": "é" * 64}, "bad_signature"),
        ({"signature": "Ã©" * 32}, "bad_signature"),
        ({"secret": "another-secret-entirely"}, "bad_signature"),
        ({"body": BODY + b" "}, "bad_signature"),
    ],
)
def test_refusals_name_their_reason(overrides, reason):
    with pytest.raises(DeliveryRefused) as refused:
        _verify(**overrides)
    assert refused.value.reason == reason


def test_timestamps_outside_the_window_are_refused_both_ways():
    for skew in (timedelta(minutes=-6), timedelta(minutes=6)):
        with pytest.raises(DeliveryRefused) as refused:
            _verify(timestamp=(NOW + skew).isoformat())
        assert refused.value.reason == "stale_timestamp"
    assert _verify(timestamp=(NOW - timedelta(minutes=4)).isoformat())


def test_a_signed_but_unreadable_timestamp_is_refused():
    with pytest.raises(DeliveryRefused) as refused:
        _verify(timestamp="yesterday")
    assert refused.value.reason == "bad_timestamp"


def test_webhook_id_must_match_the_header():
    check_webhook_id("01W", "01W")
    for header, meta, reason in [
        ("01W", "01X", "webhook_id_mismatch"),
        (None, "01W", "missing_webhook_id"),
        ("01W", None, "missing_webhook_id"),
    ]:
        with pytest.raises(DeliveryRefused) as refused:
            check_webhook_id(header, meta)
        assert refused.value.reason == reason
