"""Coupons and coupon codes, including the coupon-code bulk create job."""

from __future__ import annotations

from tests.fixtures.sandbox import SandboxControl
from tests.sandbox import bodies


def test_coupon_and_codes(sandbox: SandboxControl) -> None:
    created = sandbox.api.post("/api/coupons", json=bodies.coupon("SUMMER10"))
    assert created.status_code == 201
    assert created.json()["data"]["id"] == "SUMMER10"
    assert sandbox.api.post("/api/coupons", json=bodies.coupon("SUMMER10")).status_code == 409
    bad = sandbox.api.post("/api/coupons", json=bodies.coupon("has spaces"))
    assert bad.status_code == 400

    code = sandbox.api.post(
        "/api/coupon-codes", json={"data": bodies.coupon_code_data("SUMMER10", "ABC123")}
    )
    assert code.status_code == 200
    assert code.json()["data"]["id"] == "SUMMER10-ABC123"
    again = sandbox.api.post(
        "/api/coupon-codes", json={"data": bodies.coupon_code_data("SUMMER10", "ABC123")}
    )
    assert again.status_code == 409
    orphan = sandbox.api.post(
        "/api/coupon-codes", json={"data": bodies.coupon_code_data("NOPE", "X1")}
    )
    assert orphan.status_code == 404
    assert (
        sandbox.api.get("/api/coupon-codes/SUMMER10-ABC123").json()["data"]["attributes"]["status"]
        == "UNASSIGNED"
    )

    assert sandbox.api.delete("/api/coupon-codes/SUMMER10-ABC123").status_code == 204
    assert sandbox.stats()["coupon_codes"] == 0
    sandbox.api.post("/api/coupon-codes", json={"data": bodies.coupon_code_data("SUMMER10", "ZZZ")})
    assert sandbox.api.delete("/api/coupons/SUMMER10").status_code == 204
    assert (sandbox.stats()["coupons"], sandbox.stats()["coupon_codes"]) == (0, 0)


def test_coupon_code_bulk_job_with_per_row_errors(sandbox: SandboxControl) -> None:
    sandbox.api.post("/api/coupons", json=bodies.coupon("WINTER"))
    rows = [bodies.coupon_code_data("WINTER", f"W{n}") for n in range(4)]
    rows.append(bodies.coupon_code_data("WINTER", "W1"))
    rows.append(bodies.coupon_code_data("GHOST", "G1"))
    response = sandbox.api.post(
        "/api/coupon-code-bulk-create-jobs", json=bodies.coupon_code_job(rows)
    )
    assert response.status_code == 202
    job_id = response.json()["data"]["id"]
    done = sandbox.wait_for(
        lambda: (
            (j := sandbox.api.get(f"/api/coupon-code-bulk-create-jobs/{job_id}").json()["data"])[
                "attributes"
            ]["status"]
            == "complete"
            and j
        )
    )
    attrs = done["attributes"]
    assert (attrs["completed_count"], attrs["failed_count"]) == (4, 2)
    assert [e["source"]["pointer"] for e in attrs["errors"]] == [
        "/data/attributes/coupon-codes/data/4/attributes/unique_code",
        "/data/attributes/coupon-codes/data/5/relationships/coupon/data/id",
    ]
    assert sorted(c["unique_code"] for c in sandbox.coupons()["coupon_codes"]) == [
        "W0",
        "W1",
        "W2",
        "W3",
    ]


def test_coupon_update_changes_only_what_it_names(sandbox: SandboxControl) -> None:
    body = bodies.coupon("AUTUMN")
    body["data"]["attributes"]["description"] = "10% off"
    sandbox.api.post("/api/coupons", json=body)

    def patch(coupon_id: str, body_id: str, attributes: dict):
        return sandbox.api.patch(
            f"/api/coupons/{coupon_id}",
            json={"data": {"type": "coupon", "id": body_id, "attributes": attributes}},
        )

    updated = patch("AUTUMN", "AUTUMN", {"description": "15% off"})
    assert updated.status_code == 200
    assert updated.json()["data"]["attributes"]["description"] == "15% off"
    kept = patch("AUTUMN", "AUTUMN", {"monitor_configuration": {"low_balance_threshold": 5}})
    assert kept.json()["data"]["attributes"]["description"] == "15% off"  # absent: left as is
    assert patch("AUTUMN", "OTHER", {"description": "x"}).status_code == 409
    assert patch("NOPE", "NOPE", {"description": "x"}).status_code == 404
    assert patch("AUTUMN", "AUTUMN", {"external_id": "X"}).status_code == 400  # not updatable
