"""`status`: the status endpoint's facts, per-surface counts and backlog age, no secrets."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet

from app.klaviyo.credentials import store_credential, store_webhook_secret
from app.klaviyo.secrets import SecretCipher
from app.klaviyo.settings import set_setting
from tests.cli.conftest import count_rows, fail_rows

API_KEY = "pk_live_cli_status_key_0123456789abcd"
WEBHOOK_SECRET = "whsec_cli_status_secret_42"


async def _connect(conn, encryption_key: str) -> None:
    cipher = SecretCipher.from_keys([encryption_key])
    await store_credential(conn, cipher, api_key=API_KEY, account_id="ACCT_CLI_1")
    await store_webhook_secret(conn, cipher, WEBHOOK_SECRET)


async def test_json_matches_the_status_endpoint_and_the_tables(
    operator, store, conn, test_secrets, api, session_headers
) -> None:
    await _connect(conn, test_secrets[1])
    await fail_rows(conn, "event_outbox", "true", "Klaviyo 400 invalid: metric name")
    await conn.execute(
        "UPDATE klaviyo.profile_state SET updated_at = now() - interval '2 hours', "
        "next_attempt_at = now() + interval '1 minute'"
    )

    result = operator("status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)

    endpoint = await api.get("/admin/klaviyo/status", headers=await session_headers())
    assert {k: v for k, v in status.items() if k != "surfaces"} == endpoint.json()["data"]
    assert status["connected"] is True and status["accountId"] == "ACCT_CLI_1"
    assert status["apiKeyMasked"] == "pk_****abcd"
    assert status["configuration"]["feed"] == "configured"

    surfaces = {row["surface"]: row for row in status["surfaces"]}
    assert list(surfaces) == ["profiles", "events", "catalog", "categories", "coupons"]
    for surface, table in [
        ("profiles", "profile_state"),
        ("events", "event_outbox"),
        ("catalog", "catalog_state"),
        ("categories", "category_state"),
        ("coupons", "coupon_state"),
    ]:
        total = await count_rows(conn, f"SELECT count(*) FROM klaviyo.{table}")  # noqa: S608
        assert total > 0, f"the sample store left no {table} rows"
        assert surfaces[surface]["total"] == total
    events = await count_rows(conn, "SELECT count(*) FROM klaviyo.event_outbox")
    assert surfaces["events"]["failed"] == events and surfaces["events"]["waiting"] == 0
    assert surfaces["profiles"]["waiting"] == surfaces["profiles"]["backingOff"] == 1
    assert 7_100 <= surfaces["profiles"]["oldestPendingAgeS"] <= 7_300
    assert surfaces["catalog"]["oldestPendingAgeS"] is not None


async def test_human_output_names_the_facts_and_never_the_key(
    operator, store, conn, test_secrets
) -> None:
    await _connect(conn, test_secrets[1])
    await conn.execute("UPDATE klaviyo.profile_state SET updated_at = now() - interval '2 hours'")

    result = operator("status")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "account ACCT_CLI_1" in out and "key pk_****abcd" in out
    assert "Sync:           on" in out and "webhookIngest on" in out
    assert "feed configured, missing none" in out
    profiles_line = next(line for line in out.splitlines() if "│ profiles" in line)
    assert profiles_line.split("│")[2].strip() == "1"  # waiting
    assert profiles_line.split("│")[8].strip().startswith("2h ")  # oldest waiting
    for secret in (API_KEY, WEBHOOK_SECRET):
        assert secret not in result.stdout and secret not in result.stderr


async def test_switches_off_and_not_connected(operator, conn) -> None:
    await set_setting(conn, "catalog_sync_enabled", False)
    result = operator("status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["connected"] is False and status["apiKeyMasked"] is None
    assert status["perSurfaceEnabled"]["catalog"] is False
    assert status["perSurfaceEnabled"]["profile"] is True
    assert status["configuration"]["missingKeys"] == ["apiKey", "webhookSecret"]
    assert all(row["total"] == 0 for row in status["surfaces"])


async def test_a_key_stored_under_another_encryption_key_is_an_operational_failure(
    operator, conn
) -> None:
    await _connect(conn, Fernet.generate_key().decode())
    result = operator("status")
    assert result.returncode == 1
    assert "cannot be decrypted with APP_ENCRYPTION_KEY" in result.stderr
    assert API_KEY not in result.stdout + result.stderr


def test_an_unreachable_database_is_an_operational_failure(operator) -> None:
    result = operator("status", DATABASE_URL="postgresql://cli:pw@127.0.0.1:9/none")
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr and "pw" not in result.stderr
