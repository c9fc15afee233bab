"""Events: validation rules, dedup, profile resolution, bulk jobs and reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.sandbox import SandboxControl
from tests.sandbox import bodies


def _pointer(response) -> str:
    return response.json()["errors"][0]["source"]["pointer"]


def test_create_event_is_202_empty_and_stored(sandbox: SandboxControl) -> None:
    body = bodies.event(
        "Placed Order",
        {"email": "buyer@example.com"},
        properties={"total": 30},
        value=30.0,
        value_currency="USD",
        unique_id="order-1",
    )
    response = sandbox.api.post("/api/events", json=body)
    assert response.status_code == 202
    assert response.content == b""
    [stored] = sandbox.events(metric="Placed Order")
    assert stored["properties"] == {"total": 30}
    assert (stored["value"], stored["unique_id"]) == (30.0, "order-1")
    # The event created its profile from the identifier it carried.
    assert sandbox.profile(stored["profile_id"])["attributes"]["email"] == "buyer@example.com"


def test_event_updates_existing_profile(sandbox: SandboxControl) -> None:
    profile_id = sandbox.api.post("/api/profiles", json=bodies.profile("known@example.com")).json()[
        "data"
    ]["id"]
    body = bodies.event("Viewed", {"email": "known@example.com", "first_name": "Kim"})
    assert sandbox.api.post("/api/events", json=body).status_code == 202
    assert sandbox.events(metric="Viewed")[0]["profile_id"] == profile_id
    assert sandbox.profile(profile_id)["attributes"]["first_name"] == "Kim"
    assert sandbox.stats()["profiles"] == 1


def test_dedup_on_unique_id(sandbox: SandboxControl) -> None:
    body = bodies.event("Placed Order", {"email": "d@example.com"}, unique_id="same")
    assert sandbox.api.post("/api/events", json=body).status_code == 202
    assert sandbox.api.post("/api/events", json=body).status_code == 202
    assert len(sandbox.events(metric="Placed Order")) == 1
    other = bodies.event("Placed Order", {"email": "d@example.com"}, unique_id="different")
    sandbox.api.post("/api/events", json=other)
    assert len(sandbox.events(metric="Placed Order")) == 2


def test_dedup_falls_back_to_time_to_the_second(sandbox: SandboxControl) -> None:
    def at(ts: str) -> dict:
        return bodies.event("Clicked", {"email": "t@example.com"}, time=ts)

    sandbox.api.post("/api/events", json=at("2025-05-01T10:00:00.100000+00:00"))
    sandbox.api.post("/api/events", json=at("2025-05-01T10:00:00.900000+00:00"))
    sandbox.api.post("/api/events", json=at("2025-05-01T10:00:01+00:00"))
    assert len(sandbox.events(metric="Clicked")) == 2


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"metric": "M" * 128}, "/data/attributes/metric/data/attributes/name"),
        ({"metric": " "}, "/data/attributes/metric/data/attributes/name"),
        ({"profile": {}}, "/data/attributes/profile/data/attributes"),
        ({"profile": {"email": "nope"}}, "/data/attributes/profile/data/attributes/email"),
        ({"time": "1989-12-31T23:59:59+00:00"}, "/data/attributes/time"),
        ({"time": (datetime.now(UTC) + timedelta(days=400)).isoformat()}, "/data/attributes/time"),
        ({"properties": {f"p{n}": n for n in range(401)}}, "/data/attributes/properties"),
        ({"value": "ten"}, "/data/attributes/value"),
    ],
)
def test_event_validation_names_the_field(sandbox: SandboxControl, change, pointer) -> None:
    metric = change.pop("metric", "Valid Metric")
    profile = change.pop("profile", {"email": "v@example.com"})
    response = sandbox.api.post("/api/events", json=bodies.event(metric, profile, **change))
    assert response.status_code == 400
    assert _pointer(response) == pointer
    assert sandbox.stats()["events"] == 0


def test_metric_name_of_127_chars_is_accepted(sandbox: SandboxControl) -> None:
    body = bodies.event(
        "M" * 127, {"phone_number": "+12015550123"}, properties={f"p{n}": n for n in range(400)}
    )
    assert sandbox.api.post("/api/events", json=body).status_code == 202


def test_event_with_unknown_profile_id_is_400(sandbox: SandboxControl) -> None:
    body = bodies.event("Viewed", {})
    body["data"]["attributes"]["profile"]["data"]["id"] = "01NOPE00000000000000000000"
    response = sandbox.api.post("/api/events", json=body)
    assert response.status_code == 400
    assert _pointer(response) == "/data/attributes/profile/data/id"


def test_bulk_create_events_is_absorbed_asynchronously(sandbox: SandboxControl) -> None:
    entries = [
        bodies.bulk_event_entry(
            {"email": f"bulk{n}@example.com"},
            [bodies.bulk_event_attrs("Ordered", unique_id=f"o-{n}-{k}") for k in range(3)],
        )
        for n in range(10)
    ]
    response = sandbox.api.post("/api/event-bulk-create-jobs", json=bodies.bulk_events(entries))
    assert response.status_code == 202
    assert response.content == b""
    sandbox.wait_jobs_done()
    assert sandbox.stats()["events_per_metric"] == {"Ordered": 30}
    assert sandbox.stats()["profiles"] == 10
    [job] = sandbox.jobs()
    assert (job["type"], job["status"], job["completed_count"]) == (
        "event-bulk-create-job",
        "complete",
        30,
    )


def test_bulk_events_over_1000_is_400(sandbox: SandboxControl) -> None:
    entry = bodies.bulk_event_entry(
        {"email": "many@example.com"},
        [bodies.bulk_event_attrs("Ordered", unique_id=str(k)) for k in range(1001)],
    )
    response = sandbox.api.post("/api/event-bulk-create-jobs", json=bodies.bulk_events([entry]))
    assert response.status_code == 400
    assert _pointer(response) == "/data/attributes/events-bulk-create/data"


def test_bulk_events_repeated_unique_id_fails_whole_request(sandbox: SandboxControl) -> None:
    entries = [
        bodies.bulk_event_entry(
            {"email": "r1@example.com"}, [bodies.bulk_event_attrs("Ordered", unique_id="u")]
        ),
        bodies.bulk_event_entry(
            {"email": "r2@example.com"},
            [
                bodies.bulk_event_attrs("Ordered", unique_id="v"),
                bodies.bulk_event_attrs("Ordered", unique_id="u"),
            ],
        ),
    ]
    response = sandbox.api.post("/api/event-bulk-create-jobs", json=bodies.bulk_events(entries))
    assert response.status_code == 400
    base = "/data/attributes/events-bulk-create/data/1/attributes/events/data/1"
    assert _pointer(response) == f"{base}/attributes/unique_id"
    sandbox.wait_jobs_done()
    assert sandbox.stats()["events"] == 0


def test_bulk_events_one_invalid_event_fails_with_pointer(sandbox: SandboxControl) -> None:
    events = [
        bodies.bulk_event_attrs("Ordered"),
        bodies.bulk_event_attrs("Ordered", time="1980-01-01T00:00:00Z"),
    ]
    entries = [bodies.bulk_event_entry({"email": "i@example.com"}, events)]
    response = sandbox.api.post("/api/event-bulk-create-jobs", json=bodies.bulk_events(entries))
    assert response.status_code == 400
    assert (
        _pointer(response)
        == "/data/attributes/events-bulk-create/data/0/attributes/events/data/1/attributes/time"
    )
    assert sandbox.stats()["events"] == 0


def test_bulk_events_dedup_against_stored_events(sandbox: SandboxControl) -> None:
    single = bodies.event("Ordered", {"email": "dd@example.com"}, unique_id="o-1")
    sandbox.api.post("/api/events", json=single)
    entry = bodies.bulk_event_entry(
        {"email": "dd@example.com"},
        [
            bodies.bulk_event_attrs("Ordered", unique_id="o-1"),
            bodies.bulk_event_attrs("Ordered", unique_id="o-2"),
        ],
    )
    sandbox.api.post("/api/event-bulk-create-jobs", json=bodies.bulk_events([entry]))
    sandbox.wait_jobs_done()
    assert sorted(e["unique_id"] for e in sandbox.events(metric="Ordered")) == ["o-1", "o-2"]


def test_get_events_filters_and_get_one(sandbox: SandboxControl) -> None:
    sandbox.api.post("/api/events", json=bodies.event("A", {"email": "ga@example.com"}))
    sandbox.api.post("/api/events", json=bodies.event("B", {"email": "gb@example.com"}))
    [b_event] = sandbox.events(metric="B")
    listed = sandbox.api.get(
        "/api/events", params={"filter": f'equals(profile_id,"{b_event["profile_id"]}")'}
    )
    assert listed.status_code == 200
    [resource] = listed.json()["data"]
    assert resource["id"] == b_event["id"]
    one = sandbox.api.get(f"/api/events/{b_event['id']}").json()["data"]
    assert one["relationships"]["profile"]["data"]["id"] == b_event["profile_id"]
    assert sandbox.api.get("/api/events/ev999999").status_code == 404
    assert sandbox.api.get("/api/events", params={"filter": "equals(foo,'x')"}).status_code == 400
