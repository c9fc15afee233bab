"""Better-Auth databases whose timestamps are plain `timestamp` columns (no time zone).

Such columns read back as naive datetimes; Better-Auth writes them in UTC. The tables here live
in a schema of their own, put first on the search path of the pool the app is given, so the
session lookup reads them exactly as it would read a shared deployment's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

from app.auth.signing import sign_token
from app.auth.tokens import random_id
from app.db.pool import open_pool
from tests.fixtures.api import open_api

pytestmark = pytest.mark.asyncio
STATUS = "/admin/klaviyo/status"

_PLAIN_TABLES = """
    CREATE TABLE "user" (
        id text PRIMARY KEY,
        name text NOT NULL,
        email text NOT NULL UNIQUE,
        "emailVerified" boolean NOT NULL DEFAULT false,
        image text,
        "createdAt" timestamp NOT NULL,
        "updatedAt" timestamp NOT NULL,
        role text,
        banned boolean DEFAULT false,
        "banReason" text,
        "banExpires" timestamp
    );
    CREATE TABLE "session" (
        id text PRIMARY KEY,
        "expiresAt" timestamp NOT NULL,
        token text NOT NULL UNIQUE,
        "createdAt" timestamp NOT NULL,
        "updatedAt" timestamp NOT NULL,
        "ipAddress" text,
        "userAgent" text,
        "userId" text NOT NULL REFERENCES "user" (id) ON DELETE CASCADE
    );
"""


@pytest.fixture
async def plain_pool(clean_db: str) -> AsyncIterator[AsyncConnectionPool]:
    schema = f"plain_auth_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        conn.execute(_PLAIN_TABLES)
    # A session time zone far from UTC: nothing may depend on it.
    url = make_conninfo(clean_db, options=f"-c search_path={schema},public -c TimeZone=Asia/Tokyo")
    pool = await open_pool(url, min_size=1, max_size=3)
    try:
        yield pool
    finally:
        await pool.close()
        with psycopg.connect(clean_db, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _naive_utc(delta: timedelta) -> datetime:
    return (datetime.now(UTC) + delta).replace(tzinfo=None)


async def _plain_session(
    pool: AsyncConnectionPool,
    secret: str,
    *,
    expires_in: timedelta,
    banned: bool = False,
    ban_expires_in: timedelta | None = None,
) -> dict[str, str]:
    user_id, token = random_id(), random_id()
    now = _naive_utc(timedelta())
    ban_expires = None if ban_expires_in is None else _naive_utc(ban_expires_in)
    async with pool.connection() as conn:
        await conn.execute(
            'INSERT INTO "user" (id, name, email, role, banned, "banExpires", "createdAt", '
            '"updatedAt") VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
            (user_id, "plain", f"{user_id}@example.test", "admin", banned, ban_expires, now, now),
        )
        await conn.execute(
            'INSERT INTO "session" (id, token, "userId", "expiresAt", "createdAt", "updatedAt") '
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (random_id(), token, user_id, _naive_utc(expires_in), now, now),
        )
    return {"Authorization": f"Bearer {sign_token(token, secret)}"}


async def test_the_columns_really_read_back_naive(plain_pool):
    async with plain_pool.connection() as conn:
        cur = await conn.execute("SELECT %s::timestamp", (_naive_utc(timedelta()),))
        (value,) = await cur.fetchone()

    assert value.tzinfo is None


@pytest.mark.parametrize(
    ("expires_in", "status"),
    [(timedelta(hours=1), 200), (timedelta(minutes=-1), 401)],
    ids=["live", "expired"],
)
async def test_a_session_with_a_plain_expiry_is_judged_as_utc(
    test_config, plain_pool, expires_in, status
):
    headers = await _plain_session(
        plain_pool, test_config.better_auth_secret, expires_in=expires_in
    )

    async with open_api(test_config, plain_pool) as client:
        response = await client.get(STATUS, headers=headers)

    assert response.status_code == status
    if status == 401:
        assert "expired" in response.json()["message"]


@pytest.mark.parametrize(
    ("ban_expires_in", "status"),
    [(timedelta(hours=1), 403), (timedelta(hours=-1), 200)],
    ids=["ban-until-later", "ban-ran-out"],
)
async def test_a_plain_ban_expiry_is_judged_as_utc(test_config, plain_pool, ban_expires_in, status):
    headers = await _plain_session(
        plain_pool,
        test_config.better_auth_secret,
        expires_in=timedelta(hours=1),
        banned=True,
        ban_expires_in=ban_expires_in,
    )

    async with open_api(test_config, plain_pool) as client:
        response = await client.get(STATUS, headers=headers)

    assert response.status_code == status
