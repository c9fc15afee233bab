"""Better-Auth sessions: signed values only, live and unbanned sessions only, CSRF on cookies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from app.auth.signing import sign_token
from tests.fixtures.api import TEST_ORIGIN

pytestmark = pytest.mark.asyncio
STATUS = "/admin/klaviyo/status"


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def _signed_value(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_a_signed_live_session_passes(api, session_headers):
    response = await api.get(STATUS, headers=await session_headers("admin"))

    assert response.status_code == 200


async def test_no_credential_is_401(api):
    response = await api.get(STATUS)

    assert response.status_code == 401
    assert response.json()["errorCode"] == "UNAUTHORIZED"


async def test_an_unsigned_token_is_401(api, session_headers):
    token = _signed_value(await session_headers()).rpartition(".")[0]

    response = await api.get(STATUS, headers=_bearer(token))

    assert response.status_code == 401


async def test_a_tampered_signature_is_401(api, session_headers):
    token, _, signature = _signed_value(await session_headers()).rpartition(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]

    response = await api.get(STATUS, headers=_bearer(f"{token}.{flipped}"))

    assert response.status_code == 401


async def test_a_tampered_token_is_401(api, session_headers):
    token, _, signature = _signed_value(await session_headers()).rpartition(".")

    response = await api.get(STATUS, headers=_bearer(f"{token[:-1]}x.{signature}"))

    assert response.status_code == 401


async def test_a_token_signed_with_another_secret_is_401(api, session_headers):
    token = _signed_value(await session_headers()).rpartition(".")[0]

    response = await api.get(STATUS, headers=_bearer(sign_token(token, "some-other-secret")))

    assert response.status_code == 401


async def test_a_signed_token_with_no_session_is_401(api, test_config):
    value = sign_token("nosuchsessiontoken0000000000000", test_config.better_auth_secret)

    response = await api.get(STATUS, headers=_bearer(value))

    assert response.status_code == 401


async def test_an_expired_session_is_401(api, session_headers):
    headers = await session_headers(expires_at=datetime.now(UTC) - timedelta(seconds=1))

    response = await api.get(STATUS, headers=headers)

    assert response.status_code == 401
    assert "expired" in response.json()["message"]


async def test_a_banned_user_is_403(api, session_headers):
    headers = await session_headers(banned=True)

    response = await api.get(STATUS, headers=headers)

    assert response.status_code == 403
    assert response.json()["errorCode"] == "FORBIDDEN"


async def test_a_ban_until_later_is_403(api, session_headers):
    headers = await session_headers(banned=True, ban_expires=datetime.now(UTC) + timedelta(hours=1))

    assert (await api.get(STATUS, headers=headers)).status_code == 403


async def test_a_ban_that_ran_out_no_longer_blocks(api, session_headers):
    headers = await session_headers(banned=True, ban_expires=datetime.now(UTC) - timedelta(hours=1))

    assert (await api.get(STATUS, headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "cookie_name", ["better-auth.session_token", "__Secure-better-auth.session_token"]
)
async def test_both_session_cookies_are_read(api, session_headers, cookie_name):
    headers = await session_headers(cookie=True, cookie_name=cookie_name)

    assert (await api.get(STATUS, headers=headers)).status_code == 200


async def test_a_url_encoded_bearer_value_is_accepted(api, session_headers):
    value = _signed_value(await session_headers())

    response = await api.get(STATUS, headers=_bearer(quote(value, safe="")))

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 403), ("user", 403), ("nobody", 403), ("support", 200), ("user, support", 200)],
)
async def test_roles_are_comma_separated_and_null_means_user(api, session_headers, role, status):
    response = await api.get(STATUS, headers=await session_headers(role))

    assert response.status_code == status


async def test_view_role_cannot_manage(api, session_headers):
    response = await api.delete("/admin/klaviyo/connect", headers=await session_headers("support"))

    assert response.status_code == 403
    assert "klaviyo:manage" in response.json()["message"]


async def test_cookie_mutation_without_origin_is_refused(api, session_headers):
    headers = await session_headers(cookie=True)

    response = await api.delete("/admin/klaviyo/connect", headers=headers)

    assert response.status_code == 403
    assert "Origin" in response.json()["message"]


async def test_cookie_mutation_from_an_untrusted_origin_is_refused(api, session_headers):
    headers = {**await session_headers(cookie=True), "Origin": "https://evil.example"}

    response = await api.delete("/admin/klaviyo/connect", headers=headers)

    assert response.status_code == 403


async def test_cookie_mutation_from_a_trusted_origin_passes(api, session_headers):
    headers = {**await session_headers(cookie=True), "Origin": TEST_ORIGIN}

    response = await api.delete("/admin/klaviyo/connect", headers=headers)

    assert response.status_code == 200


async def test_bearer_mutation_needs_no_origin(api, session_headers):
    response = await api.delete("/admin/klaviyo/connect", headers=await session_headers())

    assert response.status_code == 200


async def test_session_lookup_writes_nothing(api, session_headers, db_pool):
    headers = await session_headers()
    async with db_pool.connection() as conn:
        before = await (await conn.execute('SELECT * FROM "session"')).fetchall()

    await api.get(STATUS, headers=headers)

    async with db_pool.connection() as conn:
        after = await (await conn.execute('SELECT * FROM "session"')).fetchall()
    assert before == after
