"""Failures inside the app: unhandled exceptions and a database outage, all in the envelope."""

from __future__ import annotations

import time

import msgspec
import pytest
from litestar import get
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from psycopg_pool import AsyncConnectionPool

from app.auth.signing import sign_token
from app.klaviyo.plugin import KlaviyoPlugin
from tests.fixtures.api import open_api

pytestmark = pytest.mark.asyncio


@get("/test-only/boom")
async def boom() -> None:
    raise RuntimeError("internal detail: /srv/secret/path connection=xyz")


class BoomPlugin(InitPluginProtocol):
    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(boom)
        return app_config


async def test_an_unhandled_exception_is_a_500_envelope_and_a_logged_traceback(
    test_config, db_pool, captured_logs
):
    async with open_api(test_config, db_pool, plugins=[KlaviyoPlugin(), BoomPlugin()]) as client:
        response = await client.get("/test-only/boom")

    assert response.status_code == 500
    assert response.json() == {
        "statusCode": 500,
        "errorCode": "INTERNAL_SERVER_ERROR",
        "message": "An internal error occurred; it has been logged.",
    }
    assert "secret" not in response.text
    [logged] = captured_logs.named("unhandled_exception")
    assert "RuntimeError" in logged["exception"]
    assert "Traceback" in logged["exception"]
    assert logged["request_id"] == response.headers["x-request-id"]


async def test_an_unreachable_database_answers_503_promptly(test_config):
    dead_pool = AsyncConnectionPool(
        "postgresql://postgres@127.0.0.1:9/none", min_size=0, max_size=2, open=False, timeout=1.0
    )
    await dead_pool.open(wait=False)
    signed = sign_token("some-session-token", test_config.better_auth_secret)
    config = msgspec.structs.replace(test_config, klaviyo_timeout_s=1.0)
    try:
        async with open_api(config, dead_pool) as client:
            started = time.monotonic()
            status = await client.get(
                "/admin/klaviyo/status", headers={"Authorization": f"Bearer {signed}"}
            )
            health = await client.get("/health")
            elapsed = time.monotonic() - started
    finally:
        await dead_pool.close()

    assert status.status_code == 503
    assert status.json()["errorCode"] == "DATABASE_ERROR"
    assert status.json()["statusCode"] == 503
    assert health.status_code == 503
    assert elapsed < 10


async def test_connections_killed_under_the_app_answer_503_not_a_hang(
    api, db_pool, session_headers
):
    headers = await session_headers()
    assert (await api.get("/admin/klaviyo/status", headers=headers)).status_code == 200
    async with AsyncConnectionPool(db_pool.conninfo, min_size=1, open=False) as killer:
        async with killer.connection() as conn:
            # Every connection of the app's pool (they carry its application_name) dies.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'klaviyo-sync' AND datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )

    response = await api.get("/admin/klaviyo/status", headers=headers)

    assert response.status_code == 503
    assert response.json()["errorCode"] == "DATABASE_ERROR"
