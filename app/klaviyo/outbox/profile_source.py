"""Reads a batch of customers through the source contract, as the profile drain pushes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

PROFILE_SOURCE_SQL = "SELECT * FROM klaviyo.profile_source(%s::text[])"


async def load_profile_sources(
    conn: psycopg.AsyncConnection, customer_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The `klaviyo_source.customers` rows of `customer_ids` in one query, by customer id; a
    customer missing from the store is missing from the answer."""
    if not customer_ids:
        return {}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(PROFILE_SOURCE_SQL, (list(customer_ids),))
        return {row["customer_id"]: row for row in await cur.fetchall()}
