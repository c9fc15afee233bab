"""Success and error envelopes, status codes, health, OpenAPI and the request log line."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio


async def test_status_answers_the_success_envelope(api, session_headers):
    response = await api.get("/admin/klaviyo/status", headers=await session_headers("support"))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data", "message", "statusCode"}
    assert body["message"] == "Success"
    assert body["statusCode"] == 200


async def test_disconnect_answers_200_in_the_envelope(api, session_headers):
    response = await api.delete("/admin/klaviyo/connect", headers=await session_headers())

    assert response.status_code == 200
    assert response.json() == {
        "data": {"disconnected": True},
        "message": "Success",
        "statusCode": 200,
    }


async def test_unknown_route_is_404_in_the_error_envelope(api):
    response = await api.get("/admin/klaviyo/nothing-here")

    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "errorCode": "NOT_FOUND",
        "message": response.json()["message"],
    }


async def test_wrong_method_is_405_in_the_error_envelope(api, session_headers):
    response = await api.put("/admin/klaviyo/status", headers=await session_headers())

    assert response.status_code == 405
    body = response.json()
    assert body["statusCode"] == 405
    assert body["errorCode"] == "METHOD_NOT_ALLOWED"


async def test_malformed_json_is_400_bad_request(api, session_headers):
    headers = {**await session_headers(), "Content-Type": "application/json"}
    response = await api.post("/admin/klaviyo/connect", content=b'{"apiKey": ', headers=headers)

    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "BAD_REQUEST"
    assert body["statusCode"] == 400


async def test_missing_field_is_validation_error_naming_it(api, session_headers):
    response = await api.post("/admin/klaviyo/connect", json={}, headers=await session_headers())

    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "VALIDATION_ERROR"
    assert [d["field"] for d in body["details"]] == ["apiKey"]
    assert "apiKey" in body["message"]


async def test_wrong_type_is_validation_error_naming_the_field(api, session_headers):
    response = await api.post(
        "/admin/klaviyo/connect", json={"apiKey": 12345}, headers=await session_headers()
    )

    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "VALIDATION_ERROR"
    assert body["details"][0]["field"] == "apiKey"


async def test_health_is_outside_the_envelope_and_needs_no_session(api):
    response = await api.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_openapi_documents_the_envelope_per_route(api):
    schema = (await api.get("/schema/openapi.json")).json()
    ui = await api.get("/schema")

    assert ui.status_code == 200
    status_op = schema["paths"]["/admin/klaviyo/status"]["get"]
    ok_ref = status_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    envelope = schema["components"]["schemas"][ok_ref.rsplit("/", 1)[1]]
    assert set(envelope["properties"]) == {"data", "message", "statusCode", "metadata"}
    data_ref = envelope["properties"]["data"]["$ref"].rsplit("/", 1)[1]
    status_schema = schema["components"]["schemas"][data_ref]
    assert "apiKeyMasked" in status_schema["properties"]
    assert "perSurfaceEnabled" in status_schema["properties"]
    error_ref = status_op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
    error_schema = schema["components"]["schemas"][error_ref.rsplit("/", 1)[1]]
    assert set(error_schema["properties"]) == {"statusCode", "errorCode", "message", "details"}


async def test_every_request_is_logged_once_with_its_request_id(api, captured_logs):
    ok = await api.get("/health")
    missing = await api.get("/no/such/route", headers={"X-Request-Id": "caller-chosen-id-1"})

    lines = captured_logs.named("http_request")
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/health", 200),
        ("GET", "/no/such/route", 404),
    ]
    assert lines[0]["request_id"] == ok.headers["x-request-id"]
    assert lines[1]["request_id"] == "caller-chosen-id-1" == missing.headers["x-request-id"]
    assert all(isinstance(line["duration_ms"], float | int) for line in lines)


async def test_a_hostile_request_id_is_replaced(api, captured_logs):
    response = await api.get("/health", headers={"X-Request-Id": 'evil" injected=1'})

    assert response.headers["x-request-id"] != 'evil" injected=1'
    assert captured_logs.named("http_request")[0]["request_id"] == response.headers["x-request-id"]
