"""Rate limits: burst and steady fixed windows per account and operation, headers, Retry-After."""

from __future__ import annotations

import httpx

from tests.fixtures.sandbox import SandboxControl

MINUTE_START = 1_800_000_000.0  # a multiple of 60: windows line up with the frozen clock


def test_burst_window_throttles_with_retry_after(sandbox: SandboxControl) -> None:
    sandbox.set_rate_limits("klaviyo", frozen_at=MINUTE_START + 0.25)
    first = sandbox.api.get("/api/accounts")
    assert first.status_code == 200
    assert first.headers["RateLimit-Limit"] == "15, 1;w=1, 15;w=60"
    assert first.headers["RateLimit-Remaining"] == "14"
    assert first.headers["RateLimit-Reset"] == "60"

    second = sandbox.api.get("/api/accounts")
    assert second.status_code == 429
    error = second.json()["errors"][0]
    assert error["code"] == "throttled"
    assert second.headers["Retry-After"] == "1"
    assert "RateLimit-Remaining" not in second.headers

    sandbox.set_rate_limits("klaviyo", advance_s=1.0)
    assert sandbox.api.get("/api/accounts").status_code == 200


def test_steady_window_throttles_until_the_minute_ends(sandbox: SandboxControl) -> None:
    sandbox.set_rate_limits("klaviyo", frozen_at=MINUTE_START + 0.25)
    for n in range(15):
        response = sandbox.api.get("/api/accounts")
        assert response.status_code == 200, n
        sandbox.set_rate_limits("klaviyo", advance_s=1.0)
    assert response.headers["RateLimit-Remaining"] == "0"
    throttled = sandbox.api.get("/api/accounts")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "45"
    sandbox.set_rate_limits("klaviyo", advance_s=45.0)
    assert sandbox.api.get("/api/accounts").status_code == 200


def test_budgets_are_per_operation_and_per_account(sandbox: SandboxControl) -> None:
    sandbox.set_rate_limits("klaviyo", frozen_at=MINUTE_START)
    assert sandbox.api.get("/api/accounts").status_code == 200
    assert sandbox.api.get("/api/accounts").status_code == 429
    profiles = sandbox.api.get("/api/profiles")
    assert profiles.status_code == 200
    assert profiles.headers["RateLimit-Limit"] == "750, 75;w=1, 750;w=60"
    other = httpx.Client(base_url=sandbox.base_url, headers=sandbox.api.headers)
    other.headers["authorization"] = "Klaviyo-API-Key pk_sandbox_second_account_key"
    with other:
        assert other.get("/api/accounts").status_code == 200


def test_bulk_events_use_their_tier(sandbox: SandboxControl) -> None:
    sandbox.set_rate_limits("klaviyo", frozen_at=MINUTE_START)
    statuses = [
        sandbox.api.post("/api/event-bulk-create-jobs", json={}).status_code for _ in range(11)
    ]
    # Ten requests per second are admitted (and fail validation); the eleventh is throttled.
    assert statuses == [400] * 10 + [429]


def test_real_clock_burst(sandbox: SandboxControl) -> None:
    sandbox.set_rate_limits("klaviyo")
    statuses = {sandbox.api.get("/api/accounts").status_code for _ in range(3)}
    assert 429 in statuses


def test_off_mode_sends_no_headers_and_never_throttles(sandbox: SandboxControl) -> None:
    responses = [sandbox.api.get("/api/accounts") for _ in range(5)]
    assert {r.status_code for r in responses} == {200}
    assert "RateLimit-Limit" not in responses[0].headers
    assert sandbox.stats()["rate_limits"] == "off"


def test_reset_restores_off_mode(sandbox: SandboxControl) -> None:
    sandbox.set_rate_limits("klaviyo")
    sandbox.reset()
    assert sandbox.stats()["rate_limits"] == "off"
