"""The default trusted origins (CSRF on cookie writes) follow where the server listens."""

from __future__ import annotations

import msgspec
import pytest

from app.config import Config
from tests.fixtures.api import open_api

CONNECT = "/admin/klaviyo/connect"
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - a HOST value under test, never bound


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ("http://127.0.0.1:8000", "http://localhost:8000")),
        ({"PORT": "8123"}, ("http://127.0.0.1:8123", "http://localhost:8123")),
        (
            {"HOST": EVERY_INTERFACE, "PORT": "9001"},
            ("http://127.0.0.1:9001", "http://localhost:9001"),
        ),
        (
            {"HOST": "admin.internal", "PORT": "8443"},
            ("http://127.0.0.1:8443", "http://localhost:8443", "http://admin.internal:8443"),
        ),
        ({"PORT": "8123", "TRUSTED_ORIGINS": "https://a.example"}, ("https://a.example",)),
    ],
)
def test_default_origins_follow_host_and_port(environ, expected):
    assert Config.from_environ(environ).trusted_origins == expected


def test_a_port_given_to_serve_moves_the_default_origins_along():
    moved = Config.from_environ({"PORT": "8123"}).listening_on("127.0.0.1", 9100)
    kept = Config.from_environ({"TRUSTED_ORIGINS": "https://a.example"}).listening_on(
        "127.0.0.1", 9100
    )

    assert moved.port == 9100
    assert moved.trusted_origins == ("http://127.0.0.1:9100", "http://localhost:9100")
    assert kept.trusted_origins == ("https://a.example",)


@pytest.mark.asyncio
async def test_a_cookie_write_from_the_servers_own_port_passes(
    test_config, db_pool, session_headers
):
    from_environ = Config.from_environ({"PORT": "8123"})
    config = msgspec.structs.replace(test_config, trusted_origins=from_environ.trusted_origins)
    cookie = await session_headers(cookie=True)

    async with open_api(config, db_pool) as client:
        own = await client.delete(CONNECT, headers={**cookie, "Origin": "http://localhost:8123"})
        stale = await client.delete(CONNECT, headers={**cookie, "Origin": "http://localhost:8000"})

    assert own.status_code == 200
    assert stale.status_code == 403
