"""The retry policy (pure logic): backoff bounds, Retry-After, what fails and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from app.klaviyo.client import KlaviyoApiError
from app.klaviyo.drain.retry import (
    PushFailure,
    RetryPolicy,
    describe,
    failure_from_api_error,
    failure_from_exception,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, base_s=2.0, cap_s=60.0)


def _refusal(status: int, body: dict | None = None, headers: dict | None = None):
    response = httpx.Response(status, json=body or {}, headers=headers or {})
    return failure_from_api_error(KlaviyoApiError.from_response(response))


def test_backoff_is_full_jitter_under_a_cap() -> None:
    for attempt in range(1, 12):
        ceiling = min(60.0, 2.0 * 2 ** (attempt - 1))
        samples = [POLICY.backoff_s(attempt) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.7  # the window really widens


def test_transient_failure_goes_back_with_a_later_attempt() -> None:
    failure = _refusal(503)
    decision = POLICY.decide("r1", 0, failure, "e", now=NOW)
    assert failure.kind == "transient" and not decision.final and decision.counts
    assert NOW <= decision.next_attempt_at <= NOW + timedelta(seconds=2)


def test_retry_after_is_a_floor() -> None:
    failure = _refusal(429, headers={"Retry-After": "30"})
    decision = POLICY.decide("r1", 0, failure, "e", now=NOW)
    assert decision.next_attempt_at >= NOW + timedelta(seconds=30)


def test_429_does_not_use_up_attempts() -> None:
    failure = _refusal(429, headers={"Retry-After": "1"})
    decision = POLICY.decide("r1", POLICY.max_attempts - 1, failure, "e", now=NOW)
    assert not decision.final and not decision.counts


def test_other_4xx_fails_at_once() -> None:
    body = {"errors": [{"code": "invalid", "detail": "bad time", "source": {"pointer": "/x"}}]}
    failure = _refusal(400, body)
    decision = POLICY.decide("r1", 0, failure, "e", now=NOW)
    assert decision.final and failure.pointer == "/x"


def test_the_last_allowed_attempt_fails_the_row() -> None:
    failure = failure_from_exception(httpx.ReadTimeout("timed out"))
    assert not POLICY.decide("r", POLICY.max_attempts - 2, failure, "e").final
    assert POLICY.decide("r", POLICY.max_attempts - 1, failure, "e").final


def test_last_error_names_surface_row_status_code_detail_and_pointer() -> None:
    failure = PushFailure(
        kind="rejected", status=400, code="invalid", detail="Bad.", pointer="/data/0"
    )
    text = describe("events", "row-9", failure, "idempotency key order:1")
    assert (
        text == "events row row-9: Klaviyo 400 invalid: Bad. (at /data/0) [idempotency key order:1]"
    )
    no_answer = describe("profiles", "r", failure_from_exception(httpx.ConnectError("refused")))
    assert no_answer.startswith("profiles row r: no answer from Klaviyo ConnectError:")
