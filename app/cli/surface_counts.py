"""Per-surface counts and backlog age, read from the dashboard views, for status and --wait."""

from __future__ import annotations

from datetime import datetime

import msgspec
import psycopg
from psycopg.rows import class_row

SURFACES = ("profiles", "events", "catalog", "categories", "coupons")


class SurfaceCounts(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One surface's rows by dashboard bucket (see sql/0080_dashboards.sql) and its backlog."""

    surface: str
    waiting: int
    done: int
    failed: int
    other: int
    total: int
    backing_off: int
    oldest_pending_since: datetime | None
    oldest_pending_age_s: int | None


# Every asked-for surface, in the order asked, with zeros for a surface that has no rows yet
# (the views only hold surfaces that have some).
SURFACE_COUNTS = """
    SELECT s.surface,
           coalesce(c.waiting, 0)::bigint AS waiting,
           coalesce(c.done, 0)::bigint AS done,
           coalesce(c.failed, 0)::bigint AS failed,
           coalesce(c.other, 0)::bigint AS other,
           coalesce(c.total, 0)::bigint AS total,
           coalesce(b.backing_off, 0)::bigint AS backing_off,
           b.oldest_pending_since,
           b.oldest_pending_age_s
    FROM unnest(%(surfaces)s::text[]) WITH ORDINALITY AS s(surface, position)
    LEFT JOIN klaviyo.dashboard_surface_status c ON c.surface = s.surface
    LEFT JOIN klaviyo.dashboard_backlog b ON b.surface = s.surface
    ORDER BY s.position
"""


async def read_surface_counts(
    conn: psycopg.AsyncConnection, surfaces: tuple[str, ...] = SURFACES
) -> list[SurfaceCounts]:
    async with conn.cursor(row_factory=class_row(SurfaceCounts)) as cur:
        await cur.execute(SURFACE_COUNTS, {"surfaces": list(surfaces)})
        return await cur.fetchall()


def age_text(seconds: int | None) -> str:
    """`3d 4h`, `2h 05m`, `4m 10s`, `12s`; `-` when nothing waits."""
    if seconds is None:
        return "-"
    seconds = max(0, seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
