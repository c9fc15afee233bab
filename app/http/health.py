"""GET /health: no session, no envelope; 200 when the database answers, 503 otherwise."""

from __future__ import annotations

import asyncio

import psycopg
import structlog
from litestar import Request, Response, get

log = structlog.get_logger(__name__)

HEALTH_TIMEOUT_S = 3.0


async def _database_answers(request: Request) -> bool:
    pool = request.app.state.pool
    if pool is None:
        return False
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            async with pool.connection(timeout=HEALTH_TIMEOUT_S) as conn:
                await conn.execute("SELECT 1")
    except (psycopg.Error, TimeoutError) as exc:
        log.warning("health_database_unavailable", error_type=type(exc).__name__)
        return False
    return True


@get("/health", summary="Liveness and database reachability", tags=["health"])
async def health(request: Request) -> Response[dict[str, str]]:
    if await _database_answers(request):
        return Response({"status": "ok", "database": "ok"}, status_code=200)
    return Response({"status": "unavailable", "database": "unavailable"}, status_code=503)
