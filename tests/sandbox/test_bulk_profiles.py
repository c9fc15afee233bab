"""Bulk profile import jobs: lifecycle, per-row import errors, limits."""

from __future__ import annotations

from tests.fixtures.sandbox import SandboxControl
from tests.sandbox import bodies


def _job(sandbox: SandboxControl, job_id: str) -> dict:
    response = sandbox.api.get(f"/api/profile-bulk-import-jobs/{job_id}")
    assert response.status_code == 200
    return response.json()["data"]


def test_import_job_lifecycle_and_import_errors(sandbox: SandboxControl) -> None:
    rows = [{"email": f"imp{n}@example.com", "first_name": f"N{n}"} for n in range(20)]
    rows[7] = {"email": "broken-address"}
    rows[12] = {"email": "p12@example.com", "phone_number": "12"}
    response = sandbox.api.post("/api/profile-bulk-import-jobs", json=bodies.bulk_import(rows))
    assert response.status_code == 202
    job = response.json()["data"]
    assert job["type"] == "profile-bulk-import-job"
    assert job["attributes"]["status"] == "queued"
    assert job["attributes"]["total_count"] == 20

    done = sandbox.wait_for(
        lambda: (j := _job(sandbox, job["id"]))["attributes"]["status"] == "complete" and j
    )
    assert done["attributes"]["completed_count"] == 18
    assert done["attributes"]["failed_count"] == 2
    errors = sandbox.api.get(f"/api/profile-bulk-import-jobs/{job['id']}/import-errors").json()[
        "data"
    ]
    pointers = sorted(e["attributes"]["source"]["pointer"] for e in errors)
    assert pointers == [
        "/data/attributes/profiles/data/12/attributes/phone_number",
        "/data/attributes/profiles/data/7/attributes/email",
    ]
    assert all(e["type"] == "import-error" for e in errors)
    assert any(e["attributes"]["original_payload"] == {"email": "broken-address"} for e in errors)
    assert sandbox.stats()["profiles"] == 18
    ids = sandbox.api.get(
        f"/api/profile-bulk-import-jobs/{job['id']}/relationships/profiles",
        params={"page[size]": "100"},
    ).json()["data"]
    assert len(ids) == 18
    # Listed by profile id, not in the order the rows were sent: Klaviyo promises no order.
    assert [i["id"] for i in ids] == sorted(i["id"] for i in ids)


def test_import_job_passes_through_processing(sandbox: SandboxControl) -> None:
    sandbox.set_fault("stall_jobs", "/api/profile-bulk-import-jobs")
    response = sandbox.api.post(
        "/api/profile-bulk-import-jobs", json=bodies.bulk_import([{"email": "s@example.com"}])
    )
    job_id = response.json()["data"]["id"]
    job = sandbox.wait_for(
        lambda: (j := _job(sandbox, job_id))["attributes"]["status"] == "processing" and j
    )
    assert job["attributes"]["started_at"] is not None
    assert job["attributes"]["completed_at"] is None
    assert sandbox.stats()["profiles"] == 0


def test_import_updates_existing_profiles(sandbox: SandboxControl) -> None:
    sandbox.api.post("/api/profiles", json=bodies.profile("old@example.com", first_name="Old"))
    sandbox.api.post(
        "/api/profile-bulk-import-jobs",
        json=bodies.bulk_import([{"email": "old@example.com", "first_name": "New"}]),
    )
    sandbox.wait_jobs_done()
    assert sandbox.find_profile(email="old@example.com")["attributes"]["first_name"] == "New"
    assert sandbox.stats()["profiles"] == 1


def test_import_over_10000_profiles_is_400(sandbox: SandboxControl) -> None:
    rows = [{"email": f"x{n}@example.com"} for n in range(10_001)]
    response = sandbox.api.post("/api/profile-bulk-import-jobs", json=bodies.bulk_import(rows))
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"]["pointer"] == "/data/attributes/profiles/data"


def test_import_over_5mb_is_413(sandbox: SandboxControl) -> None:
    rows = [
        {"email": f"big{n}@example.com", "properties": {"pad": "x" * 60_000}} for n in range(90)
    ]
    response = sandbox.api.post("/api/profile-bulk-import-jobs", json=bodies.bulk_import(rows))
    assert response.status_code == 413


def test_unknown_job_is_404(sandbox: SandboxControl) -> None:
    assert sandbox.api.get("/api/profile-bulk-import-jobs/nope").status_code == 404
