"""Fault injection: server errors, hangs, resets, malformed bodies, 429 storms, stalled jobs."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fixtures.sandbox import SandboxControl
from tests.sandbox import bodies


@pytest.mark.parametrize("status", [500, 502, 503])
def test_status_fault_answers_and_changes_nothing(sandbox: SandboxControl, status: int) -> None:
    sandbox.set_fault("status", "/api/profiles", status=status, times=2)
    results = [
        sandbox.api.post("/api/profiles", json=bodies.profile(f"f{n}@example.com")).status_code
        for n in range(3)
    ]
    assert results == [status, status, 201]
    assert sandbox.stats()["profiles"] == 1
    assert sandbox.stats()["requests_per_status"][str(status)] == 2


def test_fault_rate_hits_about_that_share(sandbox: SandboxControl) -> None:
    sandbox.set_fault("status", "/api/accounts", status=500, rate=0.5)
    codes = [sandbox.api.get("/api/accounts").status_code for _ in range(100)]
    assert 25 <= codes.count(500) <= 75
    assert set(codes) == {200, 500}


def test_fault_matches_path_prefix_and_method(sandbox: SandboxControl) -> None:
    sandbox.set_fault("status", "/api/events", method="POST", status=503)
    assert sandbox.api.get("/api/events").status_code == 200
    assert sandbox.api.post("/api/events", json={}).status_code == 503
    assert sandbox.api.get("/api/accounts").status_code == 200
    sandbox.clear_faults()
    assert sandbox.api.post("/api/events", json={}).status_code == 400


def test_hang_outlasts_the_client_timeout(sandbox: SandboxControl) -> None:
    sandbox.set_fault("hang", "/api/profiles", hang_s=1.0, times=1)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        sandbox.api.post("/api/profiles", json=bodies.profile("h@example.com"), timeout=0.3)
    assert time.monotonic() - started >= 0.3
    time.sleep(0.8)
    assert sandbox.stats()["profiles"] == 0
    assert (
        sandbox.api.post("/api/profiles", json=bodies.profile("h@example.com")).status_code == 201
    )


def test_connection_reset_is_a_transport_error(sandbox: SandboxControl) -> None:
    sandbox.set_fault("reset", "/api/profile-import", times=1)
    with httpx.Client(base_url=sandbox.base_url, headers=sandbox.api.headers) as client:
        with pytest.raises(httpx.TransportError) as caught:
            client.post("/api/profile-import", json=bodies.profile("r@example.com"))
    assert not isinstance(caught.value, httpx.TimeoutException)
    assert sandbox.stats()["profiles"] == 0
    assert (
        sandbox.api.post("/api/profile-import", json=bodies.profile("r@example.com")).status_code
        == 201
    )


def test_malformed_body_after_processing(sandbox: SandboxControl) -> None:
    sandbox.set_fault("malformed", "/api/profiles", times=1)
    response = sandbox.api.post("/api/profiles", json=bodies.profile("mal@example.com"))
    assert response.status_code == 201
    with pytest.raises(ValueError):
        response.json()
    # The request was applied: a retry is a duplicate, as it would be against Klaviyo.
    assert (
        sandbox.api.post("/api/profiles", json=bodies.profile("mal@example.com")).status_code == 409
    )


def test_empty_answers_200_with_no_data_and_changes_nothing(sandbox: SandboxControl) -> None:
    sandbox.set_fault("empty", "/api/profiles", times=1)
    response = sandbox.api.post("/api/profiles", json=bodies.profile("empty@example.com"))
    assert response.status_code == 200
    assert response.json()["data"] == []
    assert sandbox.stats()["profiles"] == 0
    assert (
        sandbox.api.post("/api/profiles", json=bodies.profile("empty@example.com")).status_code
        == 201
    )


def test_429_storm_for_n_requests(sandbox: SandboxControl) -> None:
    sandbox.set_fault("throttle", "/api/events", times=3, retry_after_s=7)
    responses = [sandbox.api.get("/api/events") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert responses[0].headers["Retry-After"] == "7"
    assert responses[0].json()["errors"][0]["code"] == "throttled"


def test_429_storm_for_a_duration(sandbox: SandboxControl) -> None:
    sandbox.set_fault("throttle", "/api", duration_s=1.0)
    assert sandbox.api.get("/api/accounts").status_code == 429
    time.sleep(1.05)
    assert sandbox.api.get("/api/accounts").status_code == 200


def test_stalled_jobs_never_complete(sandbox: SandboxControl) -> None:
    sandbox.set_fault("stall_jobs", "/api/catalog-item-bulk-create-jobs")
    job = sandbox.api.post(
        "/api/catalog-item-bulk-create-jobs",
        json=bodies.catalog_job("item", "create", [bodies.item("st")["data"]]),
    ).json()["data"]
    path = f"/api/catalog-item-bulk-create-jobs/{job['id']}"
    sandbox.wait_for(
        lambda: sandbox.api.get(path).json()["data"]["attributes"]["status"] == "processing"
    )
    time.sleep(0.2)
    assert sandbox.api.get(path).json()["data"]["attributes"]["status"] == "processing"
    assert sandbox.stats()["catalog_items"] == 0


def test_cancelled_jobs_process_nothing(sandbox: SandboxControl) -> None:
    sandbox.set_fault("cancel_jobs", "/api/catalog-item-bulk-create-jobs", times=1)
    body = bodies.catalog_job("item", "create", [bodies.item("cx")["data"]])
    cancelled = sandbox.api.post("/api/catalog-item-bulk-create-jobs", json=body).json()["data"]
    path = f"/api/catalog-item-bulk-create-jobs/{cancelled['id']}"
    sandbox.wait_for(
        lambda: sandbox.api.get(path).json()["data"]["attributes"]["status"] == "cancelled"
    )
    attributes = sandbox.api.get(path).json()["data"]["attributes"]
    assert attributes["completed_count"] == 0 and attributes["failed_count"] == 0
    assert sandbox.stats()["catalog_items"] == 0
    # The rule is spent: the same job goes through the next time.
    sandbox.api.post("/api/catalog-item-bulk-create-jobs", json=body)
    sandbox.wait_jobs_done()
    assert sandbox.stats()["catalog_items"] == 1


def test_control_surface_is_never_faulted(sandbox: SandboxControl) -> None:
    sandbox.set_fault("status", "/api", status=500)
    assert sandbox.stats()["profiles"] == 0
    bad = sandbox.control.post("/faults", json={"kind": "status", "path_prefix": "/__sandbox"})
    assert bad.status_code == 400
    assert sandbox.control.post("/faults", json={"kind": "explode"}).status_code == 400
    assert (
        sandbox.control.post("/faults", json={"kind": "status", "status": 418}).status_code == 400
    )
