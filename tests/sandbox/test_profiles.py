"""Profiles: profile-import upserts, create, PATCH semantics, filters, cursors and validation."""

from __future__ import annotations

import pytest

from tests.fixtures.sandbox import SandboxControl
from tests.sandbox import bodies


def _pointer(response) -> str:
    return response.json()["errors"][0]["source"]["pointer"]


def test_profile_import_creates_then_updates(sandbox: SandboxControl) -> None:
    created = sandbox.api.post(
        "/api/profile-import", json=bodies.profile("ann@example.com", first_name="Ann")
    )
    assert created.status_code == 201
    profile_id = created.json()["data"]["id"]
    assert len(profile_id) == 26

    updated = sandbox.api.post(
        "/api/profile-import",
        json=bodies.profile("ann@example.com", last_name="Lee", phone_number="+12015550123"),
    )
    assert updated.status_code == 200
    attrs = updated.json()["data"]["attributes"]
    assert updated.json()["data"]["id"] == profile_id
    assert (attrs["first_name"], attrs["last_name"], attrs["phone_number"]) == (
        "Ann",
        "Lee",
        "+12015550123",
    )
    assert sandbox.stats()["profiles"] == 1


def test_profile_import_by_external_id_and_id(sandbox: SandboxControl) -> None:
    first = sandbox.api.post("/api/profile-import", json=bodies.profile(external_id="cust-1"))
    assert first.status_code == 201
    profile_id = first.json()["data"]["id"]
    by_id = {
        "data": {"type": "profile", "id": profile_id, "attributes": {"email": "c1@example.com"}}
    }
    response = sandbox.api.post("/api/profile-import", json=by_id)
    assert response.status_code == 200
    assert sandbox.profile(profile_id)["attributes"]["email"] == "c1@example.com"


def test_profile_import_conflict_is_409_duplicate_profile(sandbox: SandboxControl) -> None:
    a = sandbox.api.post("/api/profile-import", json=bodies.profile("a@example.com")).json()[
        "data"
    ]["id"]
    b = sandbox.api.post("/api/profile-import", json=bodies.profile(external_id="x-2")).json()[
        "data"
    ]["id"]
    response = sandbox.api.post(
        "/api/profile-import", json=bodies.profile("a@example.com", external_id="x-2")
    )
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "duplicate_profile"
    assert error["meta"]["duplicate_profile_id"] in {a, b}


def test_create_profile_201_then_409(sandbox: SandboxControl) -> None:
    first = sandbox.api.post("/api/profiles", json=bodies.profile("dup@example.com"))
    assert first.status_code == 201
    second = sandbox.api.post("/api/profiles", json=bodies.profile("dup@example.com"))
    assert second.status_code == 409
    assert second.json()["errors"][0]["meta"]["duplicate_profile_id"] == first.json()["data"]["id"]


def test_an_email_matches_its_profile_whatever_its_case(sandbox: SandboxControl) -> None:
    created = sandbox.api.post("/api/profile-import", json=bodies.profile("t@example.com"))
    profile_id = created.json()["data"]["id"]

    again = sandbox.api.post(
        "/api/profile-import", json=bodies.profile("T@EXAMPLE.COM", first_name="Tea")
    )
    duplicate = sandbox.api.post("/api/profiles", json=bodies.profile("T@Example.Com"))
    found = sandbox.api.get("/api/profiles", params={"filter": 'equals(email,"T@EXAMPLE.COM")'})
    event = bodies.event("Viewed", {"email": "t@EXAMPLE.com"})
    assert sandbox.api.post("/api/events", json=event).status_code == 202
    subscribed = sandbox.api.post(
        "/api/profile-subscription-bulk-create-jobs", json=bodies.subscribe(["T@example.COM"])
    )
    assert subscribed.status_code == 202
    sandbox.wait_jobs_done()

    assert (again.status_code, again.json()["data"]["id"]) == (200, profile_id)
    assert again.json()["data"]["attributes"]["first_name"] == "Tea"
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["meta"]["duplicate_profile_id"] == profile_id
    assert [p["id"] for p in found.json()["data"]] == [profile_id]
    assert [e["profile_id"] for e in sandbox.events(metric="Viewed")] == [profile_id]
    assert sandbox.find_profile(email="T@EXAMPLE.COM")["id"] == profile_id
    assert sandbox.stats()["profiles"] == 1
    subscriptions = sandbox.profile(profile_id)["attributes"]["subscriptions"]
    assert subscriptions["email"]["marketing"]["consent"] == "SUBSCRIBED"


def test_changing_an_emails_case_keeps_the_profile_findable(sandbox: SandboxControl) -> None:
    profile_id = sandbox.api.post("/api/profiles", json=bodies.profile("Case@example.com")).json()[
        "data"
    ]["id"]
    patch = {
        "data": {"type": "profile", "id": profile_id, "attributes": {"email": "case@EXAMPLE.com"}}
    }

    assert sandbox.api.patch(f"/api/profiles/{profile_id}", json=patch).status_code == 200

    assert sandbox.find_profile(email="CASE@example.com")["id"] == profile_id
    assert (
        sandbox.api.post("/api/profiles", json=bodies.profile("case@example.com")).status_code
        == 409
    )


def test_create_profile_needs_an_identifier(sandbox: SandboxControl) -> None:
    response = sandbox.api.post("/api/profiles", json=bodies.profile(first_name="Nobody"))
    assert response.status_code == 400


def test_patch_null_clears_and_absent_leaves(sandbox: SandboxControl) -> None:
    created = sandbox.api.post(
        "/api/profiles", json=bodies.profile("p@example.com", first_name="Pat", last_name="Doe")
    ).json()["data"]
    patch = {
        "data": {
            "type": "profile",
            "id": created["id"],
            "attributes": {"first_name": None, "title": "Dr"},
        }
    }
    response = sandbox.api.patch(f"/api/profiles/{created['id']}", json=patch)
    assert response.status_code == 200
    attrs = response.json()["data"]["attributes"]
    assert attrs["first_name"] is None
    assert attrs["last_name"] == "Doe"
    assert attrs["title"] == "Dr"


def test_patch_id_mismatch_is_409_and_unknown_is_404(sandbox: SandboxControl) -> None:
    created = sandbox.api.post("/api/profiles", json=bodies.profile("m@example.com")).json()["data"]
    body = {"data": {"type": "profile", "id": "OTHER", "attributes": {}}}
    assert sandbox.api.patch(f"/api/profiles/{created['id']}", json=body).status_code == 409
    body["data"]["id"] = "01AAAAAAAAAAAAAAAAAAAAAAAA"
    assert (
        sandbox.api.patch("/api/profiles/01AAAAAAAAAAAAAAAAAAAAAAAA", json=body).status_code == 404
    )


def test_patch_taking_another_profiles_email_is_409(sandbox: SandboxControl) -> None:
    sandbox.api.post("/api/profiles", json=bodies.profile("taken@example.com"))
    mine = sandbox.api.post("/api/profiles", json=bodies.profile("mine@example.com")).json()[
        "data"
    ]["id"]
    body = {"data": {"type": "profile", "id": mine, "attributes": {"email": "taken@example.com"}}}
    response = sandbox.api.patch(f"/api/profiles/{mine}", json=body)
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "duplicate_profile"


def test_get_profiles_filter_and_cursor(sandbox: SandboxControl) -> None:
    for n in range(5):
        sandbox.api.post("/api/profiles", json=bodies.profile(f"page{n}@example.com"))
    found = sandbox.api.get(
        "/api/profiles", params={"filter": 'equals(email,"page3@example.com")'}
    ).json()
    assert [p["attributes"]["email"] for p in found["data"]] == ["page3@example.com"]

    seen, url, params = [], "/api/profiles", {"page[size]": "2"}
    while url:
        page = sandbox.api.get(url, params=params).json()
        seen += [p["attributes"]["email"] for p in page["data"]]
        url, params = page["links"]["next"], None
    assert seen == [f"page{n}@example.com" for n in range(5)]


def test_get_profiles_bad_filter_is_400(sandbox: SandboxControl) -> None:
    response = sandbox.api.get("/api/profiles", params={"filter": "contains(email,'x')"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "filter"}


def test_additional_fields_subscriptions(sandbox: SandboxControl) -> None:
    profile_id = sandbox.api.post("/api/profiles", json=bodies.profile("s@example.com")).json()[
        "data"
    ]["id"]
    plain = sandbox.api.get(f"/api/profiles/{profile_id}").json()["data"]["attributes"]
    assert "subscriptions" not in plain
    full = sandbox.api.get(
        f"/api/profiles/{profile_id}", params={"additional-fields[profile]": "subscriptions"}
    ).json()["data"]["attributes"]
    marketing = full["subscriptions"]["email"]["marketing"]
    assert marketing["consent"] == "NEVER_SUBSCRIBED"
    assert marketing["can_receive_email_marketing"] is False


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"email": "not-an-email"}, "/data/attributes/email"),
        ({"email": "a@example.com", "phone_number": "2015550123"}, "/data/attributes/phone_number"),
        ({"email": "a@example.com", "phone_number": "+1555"}, "/data/attributes/phone_number"),
        ({"external_id": "x" * 256}, "/data/attributes/external_id"),
        ({"email": "a@example.com", "favourite": "blue"}, "/data/attributes/favourite"),
        ({"email": 17}, "/data/attributes/email"),
    ],
)
def test_profile_validation_names_the_field(sandbox: SandboxControl, attributes, pointer) -> None:
    response = sandbox.api.post("/api/profile-import", json=bodies.profile(**attributes))
    assert response.status_code == 400
    assert _pointer(response) == pointer
    assert sandbox.stats()["profiles"] == 0


def test_profile_over_100kb_is_rejected(sandbox: SandboxControl) -> None:
    body = bodies.profile("big@example.com", properties={"blob": "x" * (101 * 1024)})
    response = sandbox.api.post("/api/profile-import", json=body)
    assert response.status_code == 413
    assert sandbox.stats()["profiles"] == 0


def test_properties_merge_and_null_clears(sandbox: SandboxControl) -> None:
    sandbox.api.post(
        "/api/profile-import", json=bodies.profile("pr@example.com", properties={"a": 1})
    )
    sandbox.api.post(
        "/api/profile-import", json=bodies.profile("pr@example.com", properties={"b": 2})
    )
    found = sandbox.find_profile(email="pr@example.com")
    assert found["attributes"]["properties"] == {"a": 1, "b": 2}
    sandbox.api.post("/api/profile-import", json=bodies.profile("pr@example.com", properties=None))
    assert sandbox.find_profile(email="pr@example.com")["attributes"]["properties"] == {}
