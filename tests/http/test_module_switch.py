"""The module switch: off (or the plugin left out), none of its routes exist or are documented."""

from __future__ import annotations

import msgspec
import pytest

from tests.fixtures.api import open_api

pytestmark = pytest.mark.asyncio


def _module_paths(schema: dict) -> list[str]:
    return [p for p in schema["paths"] if p.startswith(("/admin/klaviyo", "/webhooks/klaviyo"))]


async def test_enabled_module_documents_its_routes(api):
    schema = (await api.get("/schema/openapi.json")).json()

    assert "/admin/klaviyo/status" in _module_paths(schema)
    assert "/webhooks/klaviyo" in _module_paths(schema)


@pytest.mark.parametrize("how", ["switch", "plugin_left_out"])
async def test_disabled_module_has_no_routes(test_config, db_pool, session_headers, how):
    if how == "switch":
        config = msgspec.structs.replace(test_config, klaviyo_module_enabled=False)
        plugins = None
    else:
        config, plugins = test_config, []

    async with open_api(config, db_pool, plugins=plugins) as client:
        schema = (await client.get("/schema/openapi.json")).json()
        status = await client.get("/admin/klaviyo/status", headers=await session_headers())
        webhook = await client.post("/webhooks/klaviyo", json={"data": []})
        health = await client.get("/health")

    assert _module_paths(schema) == []
    assert status.status_code == 404
    assert webhook.status_code == 404
    assert webhook.json()["errorCode"] == "NOT_FOUND"
    assert health.status_code == 200
