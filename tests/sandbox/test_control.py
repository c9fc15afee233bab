"""The control surface: stats, reset, inspection reads, seeding and the request log."""

from __future__ import annotations

from tests.fixtures.sandbox import SandboxControl
from tests.sandbox import bodies


def test_stats_counts_everything(sandbox: SandboxControl) -> None:
    sandbox.api.post("/api/profiles", json=bodies.profile("st@example.com"))
    sandbox.api.post("/api/events", json=bodies.event("Opened", {"email": "st@example.com"}))
    sandbox.api.post("/api/catalog-items", json=bodies.item("st"))
    sandbox.api.post("/api/catalog-categories", json=bodies.category("st"))
    sandbox.api.post("/api/coupons", json=bodies.coupon("ST"))
    sandbox.api.post("/api/coupon-codes", json={"data": bodies.coupon_code_data("ST", "C1")})
    sandbox.api.get("/api/profiles/missing")
    stats = sandbox.stats()
    assert stats["profiles"] == 1
    assert stats["events_per_metric"] == {"Opened": 1}
    assert (stats["catalog_items"], stats["catalog_variants"], stats["catalog_categories"]) == (
        1,
        0,
        1,
    )
    assert (stats["coupons"], stats["coupon_codes"]) == (1, 1)
    assert stats["requests_per_status"] == {"200": 1, "201": 4, "202": 1, "404": 1}
    assert stats["accounts"][sandbox.account_id]["profiles"] == 1


def test_reset_clears_state_and_faults(sandbox: SandboxControl) -> None:
    sandbox.api.post("/api/profiles", json=bodies.profile("gone@example.com"))
    sandbox.set_fault("status", "/api/coupons", status=500)
    sandbox.reset()
    assert sandbox.stats()["profiles"] == 0
    assert sandbox.api.get("/api/coupons").status_code == 200
    assert sandbox.stats()["requests_per_status"] == {"200": 1}


def test_seed_loads_synthetic_profiles(sandbox: SandboxControl) -> None:
    assert sandbox.control.post("/seed", json={"profiles": 500}).json() == {"profiles": 500}
    found = sandbox.api.get(
        "/api/profiles", params={"filter": 'equals(email,"seed42@sandbox.invalid")'}
    )
    assert len(found.json()["data"]) == 1


def test_request_log_records_accepted_bodies(sandbox: SandboxControl) -> None:
    sandbox.api.post("/api/profiles", json=bodies.profile("log@example.com"))
    sandbox.api.post("/api/profiles", json=bodies.profile("bad"))
    log = sandbox.control.get("/requests").json()
    assert log["recording"] is True
    assert [(r["method"], r["path"], r["operation"]) for r in log["data"]] == [
        ("POST", "/api/profiles", "create_profile")
    ]


def test_control_reads_404_for_unknown_profiles(sandbox: SandboxControl) -> None:
    assert sandbox.control.get("/profiles/nope").status_code == 404
    assert sandbox.control.post("/profiles/nope/subscribe").status_code == 404
    profile_id = sandbox.api.post("/api/profiles", json=bodies.profile("c@example.com")).json()[
        "data"
    ]["id"]
    assert sandbox.control.post(f"/profiles/{profile_id}/explode").status_code == 404
