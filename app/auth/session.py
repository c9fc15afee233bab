"""Better-Auth session verification: signed cookie or bearer value, looked up read-only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec
import psycopg
from litestar.connection import ASGIConnection

from app.auth.permissions import parse_roles
from app.auth.signing import verified_token
from app.http.errors import Forbidden, Unauthorized

SESSION_COOKIES = ("__Secure-better-auth.session_token", "better-auth.session_token")
_SCOPE_KEY = "admin_session"

_LOOKUP = """
    SELECT s.id, s."expiresAt", u.id, u.email, u.role, u.banned, u."banExpires"
    FROM "session" s
    JOIN "user" u ON u.id = s."userId"
    WHERE s.token = %s
"""


def _as_utc(moment: datetime) -> datetime:
    """Better-Auth deployments differ: `timestamptz` columns read back aware, plain `timestamp`
    columns naive. Better-Auth writes UTC, so a naive value is taken as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class AdminSession(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling, and how they proved it (CSRF rules differ for cookies)."""

    session_id: str
    user_id: str
    email: str
    roles: tuple[str, ...]
    via: Literal["cookie", "bearer"]


def presented_credential(connection: ASGIConnection) -> tuple[str, Literal["cookie", "bearer"]]:
    """The raw signed value from Authorization: Bearer, else from a session cookie."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), "bearer"
    for name in SESSION_COOKIES:
        cookie = connection.cookies.get(name)
        if cookie:
            return cookie, "cookie"
    raise Unauthorized("Sign in: no session cookie or bearer token was sent.")


async def lookup_session(
    conn: psycopg.AsyncConnection, token: str, via: Literal["cookie", "bearer"]
) -> AdminSession:
    cur = await conn.execute(_LOOKUP, (token,))
    row = await cur.fetchone()
    if row is None:
        raise Unauthorized("The session does not exist or was signed out.")
    session_id, expires_at, user_id, email, role, banned, ban_expires = row
    now = datetime.now(UTC)
    if _as_utc(expires_at) <= now:
        raise Unauthorized("The session has expired; sign in again.")
    if banned and (ban_expires is None or _as_utc(ban_expires) > now):
        raise Forbidden("The user is banned.")
    return AdminSession(
        session_id=session_id, user_id=user_id, email=email, roles=parse_roles(role), via=via
    )


async def authenticate(connection: ASGIConnection) -> AdminSession:
    """The caller's session, verified once per request and kept on the request's scope."""
    cached = connection.scope.get(_SCOPE_KEY)  # type: ignore[misc]
    if isinstance(cached, AdminSession):
        return cached
    value, via = presented_credential(connection)
    token = verified_token(value, connection.app.state.config.better_auth_secret)
    if token is None:
        raise Unauthorized("The session token is not signed by this deployment.")
    async with connection.app.state.pool.connection() as conn, conn.transaction():
        # Better-Auth owns these tables; this module never writes them.
        await conn.execute("SET TRANSACTION READ ONLY")
        session = await lookup_session(conn, token, via)
    connection.scope[_SCOPE_KEY] = session  # type: ignore[literal-required]
    return session
