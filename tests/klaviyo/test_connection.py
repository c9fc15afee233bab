"""Connection lifecycle against the sandbox as a real Klaviyo: connect, disconnect, status."""

from __future__ import annotations

import asyncio
from datetime import datetime

import msgspec
import psycopg
import pytest
from cryptography.fernet import Fernet

from app.klaviyo.credentials import load_credential, store_webhook_secret
from app.klaviyo.secrets import SecretCipher
from app.klaviyo.settings import set_setting
from tests.fixtures.api import open_api

pytestmark = pytest.mark.asyncio

SECOND_KEY = "pk_sandbox_second_account_key"
CONNECT = "/admin/klaviyo/connect"
STATUS = "/admin/klaviyo/status"


def _probes(sandbox) -> int:
    return sum(sandbox.stats()["requests_per_status"].values())


async def _credential_rows(db_pool) -> int:
    async with db_pool.connection() as conn:
        return (await (await conn.execute("SELECT count(*) FROM klaviyo.credential")).fetchone())[0]


async def test_connect_verifies_the_key_and_stores_the_account(
    api, session_headers, sandbox, db_pool
):
    headers = await session_headers()

    response = await api.post(CONNECT, json={"apiKey": f"  {sandbox.api_key}  "}, headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["statusCode"] == 200 and body["message"] == "Success"
    assert body["data"]["connected"] is True
    assert body["data"]["accountId"] == sandbox.account_id
    datetime.fromisoformat(body["data"]["connectedAt"])
    async with db_pool.connection() as conn:
        stored = await load_credential(conn, api.app.state.cipher)
    assert stored.api_key == sandbox.api_key
    assert stored.account_id == sandbox.account_id


async def test_status_after_connect_is_masked_and_complete(api, session_headers, sandbox):
    headers = await session_headers()
    await api.post(CONNECT, json={"apiKey": sandbox.api_key}, headers=headers)

    data = (await api.get(STATUS, headers=headers)).json()["data"]

    assert data["connected"] is True
    assert data["accountId"] == sandbox.account_id
    assert data["apiKeyMasked"] == f"pk_****{sandbox.api_key[-4:]}"
    assert data["syncEnabled"] is True
    assert data["perSurfaceEnabled"] == {
        "profile": True,
        "event": True,
        "catalog": True,
        "coupon": True,
        "webhookIngest": True,
    }
    assert data["configuration"] == {
        "feed": "missing",
        "missingKeys": ["webhookSecret"],
        "revision": "2026-07-15",
    }


async def test_status_before_connect_names_what_is_missing(api, session_headers):
    data = (await api.get(STATUS, headers=await session_headers("support"))).json()["data"]

    assert data["connected"] is False
    assert data["accountId"] is None and data["connectedAt"] is None
    assert data["apiKeyMasked"] is None
    assert data["configuration"]["feed"] == "missing"
    assert data["configuration"]["missingKeys"] == ["apiKey", "webhookSecret"]


async def test_status_is_configured_with_key_and_webhook_secret(
    api, session_headers, sandbox, db_pool
):
    headers = await session_headers()
    await api.post(CONNECT, json={"apiKey": sandbox.api_key}, headers=headers)
    async with db_pool.connection() as conn:
        await store_webhook_secret(conn, api.app.state.cipher, "whsec_test_secret_value")

    configuration = (await api.get(STATUS, headers=headers)).json()["data"]["configuration"]

    assert configuration["feed"] == "configured"
    assert configuration["missingKeys"] == []


async def test_status_resolves_each_surface_as_master_and_own(api, session_headers, db_pool):
    headers = await session_headers()
    async with db_pool.connection() as conn:
        await set_setting(conn, "profile_sync_enabled", False)
    surfaces = (await api.get(STATUS, headers=headers)).json()["data"]["perSurfaceEnabled"]
    assert surfaces["profile"] is False and surfaces["event"] is True

    async with db_pool.connection() as conn:
        await set_setting(conn, "sync_enabled", False)
    data = (await api.get(STATUS, headers=headers)).json()["data"]

    assert data["syncEnabled"] is False
    assert set(data["perSurfaceEnabled"].values()) == {False}


@pytest.mark.parametrize("length", [19, 201])
async def test_a_key_of_the_wrong_length_is_a_validation_error(
    api, session_headers, sandbox, db_pool, length
):
    key = "pk_" + "x" * (length - 3)

    response = await api.post(CONNECT, json={"apiKey": f" {key} "}, headers=await session_headers())

    assert response.status_code == 400
    body = response.json()
    assert body["errorCode"] == "VALIDATION_ERROR"
    assert body["details"] == [{"field": "apiKey", "message": body["details"][0]["message"]}]
    assert "20..200" in body["message"]
    assert key not in response.text
    assert _probes(sandbox) == 0
    assert await _credential_rows(db_pool) == 0


async def test_a_key_klaviyo_rejects_answers_its_401(api, session_headers, sandbox, db_pool):
    wrong_key = "pk_not_a_key_the_sandbox_knows_1234"

    response = await api.post(CONNECT, json={"apiKey": wrong_key}, headers=await session_headers())

    assert response.status_code == 401
    assert response.json()["errorCode"] == "KLAVIYO_UNAUTHORIZED"
    assert "Klaviyo rejected" in response.json()["message"]
    assert wrong_key not in response.text
    assert await _credential_rows(db_pool) == 0


async def test_klaviyo_5xx_answers_502(api, session_headers, sandbox, db_pool):
    sandbox.set_fault("status", path_prefix="/api/accounts", status=503)

    response = await api.post(
        CONNECT, json={"apiKey": sandbox.api_key}, headers=await session_headers()
    )

    assert response.status_code == 502
    assert response.json()["errorCode"] == "KLAVIYO_UNAVAILABLE"
    assert "503" in response.json()["message"]
    assert await _credential_rows(db_pool) == 0


async def test_a_klaviyo_that_hangs_answers_502_after_the_timeout(
    test_config, db_pool, session_headers, sandbox
):
    sandbox.set_fault("hang", path_prefix="/api/accounts", hang_s=5)
    config = msgspec.structs.replace(test_config, klaviyo_timeout_s=0.5)

    async with open_api(config, db_pool) as client:
        response = await client.post(
            CONNECT, json={"apiKey": sandbox.api_key}, headers=await session_headers()
        )

    assert response.status_code == 502
    assert response.json()["errorCode"] == "KLAVIYO_TIMEOUT"
    assert await _credential_rows(db_pool) == 0


async def test_a_dropped_connection_answers_502(api, session_headers, sandbox, db_pool):
    sandbox.set_fault("reset", path_prefix="/api/accounts")

    response = await api.post(
        CONNECT, json={"apiKey": sandbox.api_key}, headers=await session_headers()
    )

    assert response.status_code == 502
    assert response.json()["errorCode"] == "KLAVIYO_UNREACHABLE"


async def test_a_malformed_klaviyo_answer_is_502(api, session_headers, sandbox, db_pool):
    sandbox.set_fault("malformed", path_prefix="/api/accounts")

    response = await api.post(
        CONNECT, json={"apiKey": sandbox.api_key}, headers=await session_headers()
    )

    assert response.status_code == 502
    assert response.json()["errorCode"] == "KLAVIYO_BAD_RESPONSE"
    assert await _credential_rows(db_pool) == 0


async def test_a_klaviyo_success_with_no_account_is_502_not_200(
    api, session_headers, sandbox, db_pool
):
    sandbox.set_fault("empty", path_prefix="/api/accounts")

    response = await api.post(
        CONNECT, json={"apiKey": sandbox.api_key}, headers=await session_headers()
    )

    assert response.status_code == 502
    body = response.json()
    assert body["statusCode"] == 502
    assert body["errorCode"] == "KLAVIYO_BAD_RESPONSE"
    assert "answered /api/accounts with 200" in body["message"]
    assert "names no account" in body["message"]
    assert sandbox.stats()["requests_per_status"] == {"200": 1}
    assert await _credential_rows(db_pool) == 0


async def test_an_unreachable_klaviyo_answers_502(api, session_headers, db_pool):
    # test_config points at a port nothing listens on when the sandbox is not in use.
    response = await api.post(
        CONNECT,
        json={"apiKey": "pk_live_abcdefghijklmnopqrstuvwx"},
        headers=await session_headers(),
    )

    assert response.status_code == 502
    assert response.json()["errorCode"] == "KLAVIYO_UNREACHABLE"
    assert await _credential_rows(db_pool) == 0


async def test_a_stored_key_the_encryption_key_cannot_open_is_a_contract_500(
    api, test_config, db_pool, session_headers, sandbox
):
    headers = await session_headers()
    await api.post(CONNECT, json={"apiKey": sandbox.api_key}, headers=headers)
    rotated_away = msgspec.structs.replace(
        test_config, app_encryption_keys=(Fernet.generate_key().decode(),)
    )

    async with open_api(rotated_away, db_pool) as client:
        response = await client.get(STATUS, headers=headers)

    assert response.status_code == 500
    body = response.json()
    assert body["errorCode"] == "INTERNAL_SERVER_ERROR"
    assert "cannot be decrypted with APP_ENCRYPTION_KEY" in body["message"]
    assert "reconnect" in body["message"]
    assert sandbox.api_key not in response.text


async def test_a_webhook_secret_the_encryption_key_cannot_open_is_a_contract_500(
    test_config, db_pool, session_headers
):
    async with db_pool.connection() as conn:
        other = SecretCipher.from_keys([Fernet.generate_key().decode()])
        await store_webhook_secret(conn, other, "whsec_sealed_with_another_key")

    async with open_api(test_config, db_pool) as client:
        response = await client.get(STATUS, headers=await session_headers())

    assert response.status_code == 500
    assert response.json()["errorCode"] == "INTERNAL_SERVER_ERROR"
    assert "webhook secret" in response.json()["message"]


async def test_openapi_documents_what_connect_answers_when_klaviyo_fails(api):
    schema = (await api.get("/schema/openapi.json")).json()

    responses = schema["paths"][CONNECT]["post"]["responses"]

    for status in ("400", "401", "403", "429", "502"):
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        error = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(error["properties"]) == {"statusCode", "errorCode", "message", "details"}
    for code in ("KLAVIYO_UNAVAILABLE", "KLAVIYO_TIMEOUT", "KLAVIYO_UNREACHABLE"):
        assert code in responses["502"]["description"]
    assert "KLAVIYO_BAD_RESPONSE" in responses["502"]["description"]
    assert "KLAVIYO_UNAUTHORIZED" in responses["401"]["description"]
    assert "KLAVIYO_FORBIDDEN" in responses["403"]["description"]
    assert "KLAVIYO_RATE_LIMITED" in responses["429"]["description"]


async def test_concurrent_connects_leave_exactly_one_credential(
    api, session_headers, sandbox, db_pool
):
    headers = await session_headers()
    accounts = sandbox.control.get("/health").json()["accounts"]
    keys = [sandbox.api_key, SECOND_KEY] * 4

    responses = await asyncio.gather(
        *(api.post(CONNECT, json={"apiKey": key}, headers=headers) for key in keys)
    )

    assert [r.status_code for r in responses] == [200] * len(keys)
    assert await _credential_rows(db_pool) == 1
    async with db_pool.connection() as conn:
        stored = await load_credential(conn, api.app.state.cipher)
    account_of_key = {sandbox.api_key: accounts[0], SECOND_KEY: accounts[1]}
    assert stored.account_id == account_of_key[stored.api_key]


async def test_disconnect_drops_the_credential_and_the_cached_client(
    api, session_headers, sandbox, db_pool
):
    headers = await session_headers()
    await api.post(CONNECT, json={"apiKey": sandbox.api_key}, headers=headers)
    async with db_pool.connection() as conn:
        assert await api.app.state.klaviyo_clients.current(conn) is not None

    response = await api.delete(CONNECT, headers=headers)

    assert response.json()["data"] == {"disconnected": True}
    assert await _credential_rows(db_pool) == 0
    async with db_pool.connection() as conn:
        assert await api.app.state.klaviyo_clients.current(conn) is None
    data = (await api.get(STATUS, headers=headers)).json()["data"]
    assert data["connected"] is False
    assert "apiKey" in data["configuration"]["missingKeys"]


async def test_reconnecting_with_another_key_replaces_the_account(
    api, session_headers, sandbox, db_pool
):
    headers = await session_headers()
    await api.post(CONNECT, json={"apiKey": sandbox.api_key}, headers=headers)

    second = await api.post(CONNECT, json={"apiKey": SECOND_KEY}, headers=headers)

    assert second.json()["data"]["accountId"] != sandbox.account_id
    assert await _credential_rows(db_pool) == 1
    status = (await api.get(STATUS, headers=headers)).json()["data"]
    assert status["accountId"] == second.json()["data"]["accountId"]


async def _all_stored_text(url: str) -> list[str]:
    """Every text-like and bytea value of every table of the database, as text."""
    values: list[str] = []
    async with await psycopg.AsyncConnection.connect(url) as conn:
        columns = await (
            await conn.execute(
                """
                SELECT table_schema, table_name, column_name, data_type
                FROM information_schema.columns
                WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
                  AND data_type IN ('text', 'character varying', 'bytea', 'jsonb', 'json',
                                    'character', 'ARRAY', 'USER-DEFINED')
                  AND (table_schema, table_name) IN (
                      SELECT table_schema, table_name FROM information_schema.tables
                      WHERE table_type = 'BASE TABLE')
                """
            )
        ).fetchall()
        for schema, table, column, data_type in columns:
            query = psycopg.sql.SQL("SELECT {}::text FROM {}.{}").format(
                psycopg.sql.Identifier(column),
                psycopg.sql.Identifier(schema),
                psycopg.sql.Identifier(table),
            )
            for (value,) in await (await conn.execute(query)).fetchall():
                if value is None:
                    continue
                values.append(value)
                if data_type == "bytea" and value.startswith("\\x"):
                    values.append(bytes.fromhex(value[2:]).decode("utf-8", "replace"))
    return values


async def test_the_key_appears_in_no_response_log_line_or_column(
    api, session_headers, sandbox, db_pool, captured_logs, clean_db
):
    headers = await session_headers()
    texts = []
    texts.append(
        (
            await api.post(CONNECT, json={"apiKey": "pk_wrong_key_0000000000000"}, headers=headers)
        ).text
    )
    texts.append((await api.post(CONNECT, json={"apiKey": sandbox.api_key}, headers=headers)).text)
    texts.append((await api.get(STATUS, headers=headers)).text)
    texts.append((await api.get("/schema/openapi.json")).text)
    sandbox.set_fault("status", path_prefix="/api/accounts", status=500)
    texts.append((await api.post(CONNECT, json={"apiKey": sandbox.api_key}, headers=headers)).text)

    stored = await _all_stored_text(clean_db)

    assert captured_logs.named("klaviyo_connected")
    assert len(captured_logs.named("http_request")) == 5
    for text in [*texts, captured_logs.text, *stored]:
        assert sandbox.api_key not in text
        assert "pk_wrong_key_0000000000000" not in text
    # The credential row holds the key encrypted, the scan above read that very ciphertext, and
    # the app's cipher opens it to the key.
    async with await psycopg.AsyncConnection.connect(clean_db) as conn:
        rows = await (
            await conn.execute("SELECT api_key_encrypted, account_id FROM klaviyo.credential")
        ).fetchall()
    assert len(rows) == 1
    ciphertext, account_id = bytes(rows[0][0]), rows[0][1]
    assert account_id == sandbox.account_id
    assert sandbox.api_key.encode() not in ciphertext
    assert sandbox.api_key[3:].encode() not in ciphertext
    assert f"\\x{ciphertext.hex()}" in stored
    assert api.app.state.cipher.decrypt(ciphertext) == sandbox.api_key
