"""The module switch as SQL sees it: the app writes it at start-up so listeners obey it."""

from __future__ import annotations

import psycopg

_APPLY = """
    INSERT INTO klaviyo.module (singleton, enabled, backfill_age_s, updated_at)
    VALUES (true, %(enabled)s, %(backfill_age_s)s, now())
    ON CONFLICT (singleton) DO UPDATE
    SET enabled = EXCLUDED.enabled, backfill_age_s = EXCLUDED.backfill_age_s, updated_at = now()
    WHERE (klaviyo.module.enabled, klaviyo.module.backfill_age_s)
          IS DISTINCT FROM (EXCLUDED.enabled, EXCLUDED.backfill_age_s)
"""


def _params(enabled: bool, backfill_age_s: int) -> dict[str, object]:
    if backfill_age_s < 0:
        raise ValueError(f"backfill_age_s must be >= 0, got {backfill_age_s}")
    return {"enabled": enabled, "backfill_age_s": backfill_age_s}


async def apply_module_config(
    conn: psycopg.AsyncConnection, *, enabled: bool, backfill_age_s: int
) -> None:
    """Writes KLAVIYO_MODULE_ENABLED and KLAVIYO_BACKFILL_AGE_S where the listeners read them."""
    await conn.execute(_APPLY, _params(enabled, backfill_age_s))


def apply_module_config_sync(
    conn: psycopg.Connection, *, enabled: bool, backfill_age_s: int
) -> None:
    """The same, for start-up code without an event loop (CLI, runner)."""
    conn.execute(_APPLY, _params(enabled, backfill_age_s))


async def module_enabled(conn: psycopg.AsyncConnection) -> bool:
    cur = await conn.execute("SELECT klaviyo.module_enabled()")
    row = await cur.fetchone()
    return bool(row and row[0])
