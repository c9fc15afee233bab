"""Fixtures of the operator CLI tests: the command's environment and rows in each surface."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from app.store.discounts import create_discount
from app.store.orders import OrderLineInput, place_order
from tests.cli_helpers import cli_env, run_cli
from tests.store.sample import SampleStore, seed_store


@pytest.fixture
def operator_env(clean_db: str, tmp_path: Path, test_secrets) -> dict[str, str]:
    """The environment an operator's shell would have: the test database, the API's secrets."""
    auth_secret, encryption_key = test_secrets
    return cli_env(
        clean_db,
        tmp_path,
        BETTER_AUTH_SECRET=auth_secret,
        APP_ENCRYPTION_KEY=encryption_key,
        LOG_LEVEL="warning",
    )


@pytest.fixture
def operator(operator_env):  # type: ignore[no-untyped-def]
    """`operator("status", "--json")` runs `python -m app status --json` for real."""

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env={**operator_env, **extra})

    return run


@pytest.fixture
async def store(conn: psycopg.AsyncConnection) -> SampleStore:
    """The sample store (one customer, four variants, three categories), one discount and one
    order: the listeners have written a state row or outbox row for each."""
    sample = await seed_store(conn)
    async with conn.transaction():
        await create_discount(conn, "WELCOME10", percent_off=10, discount_id="disc-welcome")
        await place_order(
            conn,
            customer_id=sample.customer_id,
            currency="USD",
            lines=[OrderLineInput(name="Shelf", quantity=1, unit_price_minor=1999)],
        )
    return sample


async def fail_rows(conn: psycopg.AsyncConnection, table: str, where: str, error: str) -> None:
    """Settle rows as the drain does after its last attempt."""
    await conn.execute(
        f"UPDATE klaviyo.{table} SET status = 'failed', attempts = 8, last_error = %s, "  # noqa: S608
        f"leased_by = NULL, lease_expires_at = NULL, updated_at = now() WHERE {where}",
        (error,),
    )


async def count_rows(conn: psycopg.AsyncConnection, query: str, params: tuple = ()) -> int:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])
