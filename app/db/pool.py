"""The async connection pool every request handler and job shares."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


async def open_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> AsyncConnectionPool:
    """Open a pool and wait for its first connection, so a dead database fails at start-up."""
    pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=10.0,
        kwargs={"application_name": "klaviyo-sync"},
    )
    await pool.open(wait=True, timeout=30.0)
    return pool
