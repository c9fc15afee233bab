"""Klaviyo's request conventions as the sandbox enforces them: auth, revision, media types."""

from __future__ import annotations

import httpx

from tests.fixtures.sandbox import REVISION, SandboxControl
from tests.sandbox import bodies


def _error(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    return response.json()["errors"][0]


def test_missing_key_is_401_not_authenticated(sandbox: SandboxControl) -> None:
    response = httpx.get(f"{sandbox.base_url}/api/accounts", headers={"revision": REVISION})
    assert response.status_code == 401
    error = _error(response)
    assert error["code"] == "not_authenticated"
    assert set(error) >= {"id", "status", "code", "title", "detail", "source", "links", "meta"}


def test_unknown_key_is_401(sandbox: SandboxControl) -> None:
    headers = {"Authorization": "Klaviyo-API-Key pk_not_a_key", "revision": REVISION}
    response = httpx.get(f"{sandbox.base_url}/api/accounts", headers=headers)
    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"


def test_bearer_scheme_is_rejected(sandbox: SandboxControl) -> None:
    headers = {"Authorization": f"Bearer {sandbox.api_key}", "revision": REVISION}
    assert httpx.get(f"{sandbox.base_url}/api/accounts", headers=headers).status_code == 401


def test_missing_revision_is_400(sandbox: SandboxControl) -> None:
    response = sandbox.api.get("/api/accounts", headers={"revision": ""})
    # An empty header still fails the YYYY-MM-DD check; an absent one fails as missing.
    assert response.status_code == 400
    del sandbox.api.headers["revision"]
    response = sandbox.api.get("/api/accounts")
    sandbox.api.headers["revision"] = REVISION
    assert response.status_code == 400
    assert _error(response)["source"] == {"parameter": "revision"}


def test_malformed_revision_is_400(sandbox: SandboxControl) -> None:
    response = sandbox.api.get("/api/accounts", headers={"revision": "July 2026"})
    assert response.status_code == 400
    assert "revision" in _error(response)["detail"]


def test_other_media_types_are_415(sandbox: SandboxControl) -> None:
    response = sandbox.api.post(
        "/api/profiles", content=b"email=a@example.com", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"


def test_plain_json_media_type_is_accepted(sandbox: SandboxControl) -> None:
    response = sandbox.api.post(
        "/api/profiles",
        json=bodies.profile("plain@example.com"),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/vnd.api+json")


def test_paths_with_and_without_trailing_slash(sandbox: SandboxControl) -> None:
    assert sandbox.api.get("/api/accounts").status_code == 200
    assert sandbox.api.get("/api/accounts/").status_code == 200


def test_type_mismatch_is_409_conflict(sandbox: SandboxControl) -> None:
    body = {"data": {"type": "event", "attributes": {"email": "a@example.com"}}}
    response = sandbox.api.post("/api/profiles", json=body)
    assert response.status_code == 409
    assert _error(response)["source"]["pointer"] == "/data/type"


def test_missing_type_is_400_with_pointer(sandbox: SandboxControl) -> None:
    response = sandbox.api.post("/api/profiles", json={"data": {"attributes": {}}})
    assert response.status_code == 400
    assert _error(response)["source"]["pointer"] == "/data/type"


def test_invalid_json_is_400(sandbox: SandboxControl) -> None:
    response = sandbox.api.post("/api/profiles", content=b'{"data": ')
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid"


def test_unknown_path_is_json_api_404(sandbox: SandboxControl) -> None:
    response = sandbox.api.get("/api/not-a-thing")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_account_resource(sandbox: SandboxControl) -> None:
    body = sandbox.api.get("/api/accounts").json()
    assert len(body["data"]) == 1
    account = body["data"][0]
    assert account["id"] == sandbox.account_id
    attrs = account["attributes"]
    assert {"contact_information", "timezone", "preferred_currency", "public_api_key"} <= set(attrs)
    one = sandbox.api.get(f"/api/accounts/{account['id']}").json()["data"]
    assert one["id"] == account["id"]


def test_each_key_is_its_own_account(sandbox: SandboxControl) -> None:
    assert (
        sandbox.api.post("/api/profiles", json=bodies.profile("mine@example.com")).status_code
        == 201
    )
    other = httpx.Client(
        base_url=sandbox.base_url,
        headers={
            **sandbox.api.headers,
            "authorization": "Klaviyo-API-Key pk_sandbox_second_account_key",
        },
    )
    with other:
        assert other.get("/api/accounts").json()["data"][0]["id"] != sandbox.account_id
        assert other.get("/api/profiles").json()["data"] == []
        # The same e-mail is free in the other account.
        assert (
            other.post("/api/profiles", json=bodies.profile("mine@example.com")).status_code == 201
        )
    assert sandbox.stats()["profiles"] == 2
