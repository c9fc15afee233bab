"""Creating Better-Auth users and sessions for local use: `admin token`, `make run`, tests."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime, timedelta

import msgspec
import psycopg

from app.auth.signing import sign_token
from app.config import Config

SESSION_LIFETIME = timedelta(days=7)
# A session this close to expiry is not handed out again; a new one is made.
_REUSE_MARGIN = timedelta(days=1)
_ALPHABET = string.ascii_letters + string.digits

_UPSERT_USER = """
    INSERT INTO "user" (id, name, email, "emailVerified", role, banned, "createdAt", "updatedAt")
    VALUES (%(id)s, %(name)s, %(email)s, true, %(role)s, false, now(), now())
    ON CONFLICT (email) DO UPDATE SET role = EXCLUDED.role, "updatedAt" = now()
    RETURNING id
"""
# An existing user is read, never rewritten: in a database shared with the platform their
# roles are the platform's to give. Answers (id, role, created).
_ENSURE_USER = """
    WITH inserted AS (
        INSERT INTO "user"
            (id, name, email, "emailVerified", role, banned, "createdAt", "updatedAt")
        VALUES (%(id)s, %(name)s, %(email)s, true, %(role)s, false, now(), now())
        ON CONFLICT (email) DO NOTHING
        RETURNING id, role
    )
    SELECT id, role, true FROM inserted
    UNION ALL
    SELECT id, role, false FROM "user" WHERE email = %(email)s
"""
_SET_ROLE = 'UPDATE "user" SET role = %(role)s, "updatedAt" = now() WHERE id = %(id)s'

_LIVE_SESSION = """
    SELECT token FROM "session"
    WHERE "userId" = %(user_id)s AND "expiresAt" > %(not_before)s
    ORDER BY "expiresAt" DESC
    LIMIT 1
"""
_INSERT_SESSION = """
    INSERT INTO "session" (id, token, "userId", "expiresAt", "createdAt", "updatedAt", "userAgent")
    VALUES (%(id)s, %(token)s, %(user_id)s, %(expires_at)s, now(), now(), 'klaviyo-sync cli')
"""


def random_id(length: int = 32) -> str:
    """Identifiers in Better-Auth's own shape: alphanumeric."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _user_params(email: str, role: str) -> dict[str, object]:
    return {"id": random_id(), "name": email.split("@")[0], "email": email, "role": role}


def _session_params(user_id: str, expires_at: datetime) -> dict[str, object]:
    return {"id": random_id(), "token": random_id(), "user_id": user_id, "expires_at": expires_at}


class IssuedSession(msgspec.Struct, frozen=True, kw_only=True):
    """A live session and what happened to its user's roles on the way.

    role_change: "created" (a new user with the asked role), "set" (an existing user's role
    replaced because asked to), "kept" (an existing user whose role differs from the asked one
    and was left alone), "same" (an existing user who already has the asked role).
    """

    token: str
    role: str | None
    role_change: str


def ensure_session_sync(
    conn: psycopg.Connection, *, email: str, role: str, set_role: bool = False
) -> IssuedSession:
    """A live session of the user (created, with the user, when needed).

    An existing user's role is changed only with `set_role`.
    """
    params = _user_params(email, role)
    user_row = conn.execute(_ENSURE_USER, params).fetchone()
    if user_row is None:
        # Another process inserted the user after this statement's snapshot was taken.
        user_row = conn.execute(_ENSURE_USER, params).fetchone()
    assert user_row is not None
    user_id, current_role, created = user_row
    if created:
        change = "created"
    elif current_role == role:
        change = "same"
    elif set_role:
        conn.execute(_SET_ROLE, {"role": role, "id": user_id})
        change, current_role = "set", role
    else:
        change = "kept"
    not_before = datetime.now(UTC) + _REUSE_MARGIN
    live = conn.execute(_LIVE_SESSION, {"user_id": user_id, "not_before": not_before}).fetchone()
    if live is not None:
        token = str(live[0])
    else:
        params = _session_params(user_id, datetime.now(UTC) + SESSION_LIFETIME)
        conn.execute(_INSERT_SESSION, params)
        token = str(params["token"])
    return IssuedSession(token=token, role=current_role, role_change=change)


async def create_session(
    conn: psycopg.AsyncConnection,
    *,
    email: str,
    role: str | None,
    expires_at: datetime | None = None,
    banned: bool = False,
    ban_expires: datetime | None = None,
) -> str:
    """A new session (and the user, when new); answers the raw token. For tests and tools."""
    cur = await conn.execute(_UPSERT_USER, _user_params(email, role))  # type: ignore[arg-type]
    row = await cur.fetchone()
    assert row is not None
    user_id = row[0]
    await conn.execute(
        'UPDATE "user" SET banned = %s, "banExpires" = %s WHERE id = %s',
        (banned, ban_expires, user_id),
    )
    params = _session_params(user_id, expires_at or datetime.now(UTC) + SESSION_LIFETIME)
    await conn.execute(_INSERT_SESSION, params)
    return str(params["token"])


def issue_admin_token(
    config: Config, database_url: str, *, email: str, role: str, set_role: bool = False
) -> IssuedSession:
    """The session with its token signed: the value to send as `Authorization: Bearer …` or
    the session cookie. An existing user's role is changed only with `set_role`."""
    if not config.better_auth_secret:
        raise ValueError("BETTER_AUTH_SECRET is not set; tokens cannot be signed")
    with psycopg.connect(database_url) as conn:
        issued = ensure_session_sync(conn, email=email, role=role, set_role=set_role)
    return msgspec.structs.replace(
        issued, token=sign_token(issued.token, config.better_auth_secret)
    )
