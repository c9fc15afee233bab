"""Every route the Klaviyo module registers — including ones added later — refuses callers
without a session (401) and callers whose roles lack the route's permission (403)."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from app.auth.guards import SIGNATURE_AUTH_OPT
from app.http.factory import create_app

pytestmark = pytest.mark.asyncio

_PATH_PARAM = re.compile(r"\{[^}]+\}")
# Well-formed for every id format the contract names (uuid-ish event ids included).
_SAMPLE_ID = "0123abcd-0000-4000-8000-0123456789ab"


def _endpoints(app: Litestar) -> set[tuple[str, str, bool]]:
    """(method, path, authenticated by Klaviyo's signature) for every HTTP handler of the app."""
    found = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            signature_auth = handler.opt.get("auth") == SIGNATURE_AUTH_OPT["auth"]
            for method in handler.http_methods:
                if method not in {"OPTIONS", "HEAD"}:
                    found.add((method, route.path, signature_auth))
    return found


def module_endpoints(config) -> list[tuple[str, str, bool]]:
    with_module = _endpoints(create_app(config))
    without_module = _endpoints(create_app(config, plugins=[]))
    return sorted(with_module - without_module)


async def test_the_module_has_routes_and_only_webhooks_skip_sessions(test_config):
    endpoints = module_endpoints(test_config)

    assert ("GET", "/admin/klaviyo/status", False) in endpoints
    assert ("POST", "/admin/klaviyo/connect", False) in endpoints
    assert ("DELETE", "/admin/klaviyo/connect", False) in endpoints
    for method, path, signature_auth in endpoints:
        assert signature_auth == path.startswith("/webhooks/"), (method, path)
        if not signature_auth:
            assert path.startswith("/admin/klaviyo"), (method, path)


async def test_every_admin_route_is_401_without_a_session(api, test_config):
    checked = []
    for method, path, signature_auth in module_endpoints(test_config):
        if signature_auth:
            continue
        url = _PATH_PARAM.sub(_SAMPLE_ID, path)

        response = await api.request(method, url, json={})

        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["errorCode"] == "UNAUTHORIZED"
        checked.append((method, path))
    assert len(checked) >= 3


async def test_every_admin_route_is_403_for_a_role_lacking_its_permission(
    api, test_config, session_headers
):
    no_permissions = await session_headers("user")
    view_only = await session_headers("support")
    for method, path, signature_auth in module_endpoints(test_config):
        if signature_auth:
            continue
        url = _PATH_PARAM.sub(_SAMPLE_ID, path)

        refused = await api.request(method, url, json={}, headers=no_permissions)

        assert refused.status_code == 403, (method, path, refused.text)
        assert refused.json()["errorCode"] == "FORBIDDEN"
        if method != "GET":
            # klaviyo:view is not enough for anything that changes state.
            also_refused = await api.request(method, url, json={}, headers=view_only)
            assert also_refused.status_code == 403, (method, path, also_refused.text)
