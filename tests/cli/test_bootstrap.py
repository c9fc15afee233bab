"""`bootstrap SURFACE`: enqueues as the endpoints do, idempotently, and --wait watches the drain."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from app.klaviyo.drain.profiles import drain_profiles
from app.store.customers import create_customer
from tests.cli.conftest import count_rows
from tests.cli_helpers import REPO_ROOT
from tests.fixtures.drain import drain_until

STATE_TABLES = {
    "profiles": "profile_state",
    "catalog": "catalog_state",
    "categories": "category_state",
}


async def _settle_all(conn, table: str) -> None:
    """As if the drain had pushed every row already."""
    await conn.execute(
        f"UPDATE klaviyo.{table} SET status = 'synced', attempts = 1"  # noqa: S608
    )


@pytest.mark.parametrize(
    ("surface", "expected"), [("profiles", 1), ("catalog", 4), ("categories", 3)]
)
async def test_bootstrap_enqueues_every_row_and_a_rerun_adds_none(
    operator, store, conn, surface: str, expected: int
) -> None:
    table = STATE_TABLES[surface]
    await _settle_all(conn, table)
    rows_before = await count_rows(conn, f"SELECT count(*) FROM klaviyo.{table}")  # noqa: S608

    first = operator("bootstrap", surface)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"{surface}: {expected} enqueued"
    pending = await count_rows(
        conn,
        f"SELECT count(*) FROM klaviyo.{table} WHERE status = 'pending' AND attempts = 0",  # noqa: S608
    )
    assert pending == expected

    second = operator("bootstrap", surface, "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == {"enqueued": expected}
    assert await count_rows(conn, f"SELECT count(*) FROM klaviyo.{table}") == rows_before  # noqa: S608


async def test_bootstrap_with_the_module_off_changes_nothing(operator, store, conn) -> None:
    await _settle_all(conn, "profile_state")
    result = operator("bootstrap", "profiles", KLAVIYO_MODULE_ENABLED="false")
    assert result.returncode == 1
    assert "KLAVIYO_MODULE_ENABLED=false" in result.stderr
    assert (
        await count_rows(
            conn, "SELECT count(*) FROM klaviyo.profile_state WHERE status = 'pending'"
        )
        == 0
    )


async def test_wait_times_out_when_no_drain_runs(operator, store) -> None:
    result = operator(
        "bootstrap", "categories", "--wait", "--timeout", "1", "--poll-interval", "0.2"
    )
    assert result.returncode == 1
    assert result.stdout.startswith("categories: 3 enqueued")
    assert "timed out after 1s: 3 categories rows still waiting" in result.stderr
    assert "worker" in result.stderr


async def test_wait_follows_a_real_drain_to_the_sandbox(
    operator_env, conn, make_drain, sandbox
) -> None:
    async with conn.transaction():
        for n in range(3):
            await create_customer(conn, email=f"wait-{n}@example.com", first_name=f"W{n}")
    await _settle_all(conn, "profile_state")

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "app", "bootstrap", "profiles", "--wait", "--timeout", "60"),
        *("--poll-interval", "0.2"),
        cwd=REPO_ROOT,
        env={**operator_env, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        first_line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert first_line.decode().strip() == "profiles: 3 enqueued"
        ctx = make_drain()

        async def drained() -> bool:
            return (
                await count_rows(
                    conn, "SELECT count(*) FROM klaviyo.profile_state WHERE status = 'pending'"
                )
                == 0
            )

        await drain_until(lambda: drain_profiles(ctx), drained)
        rest, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert "profiles: drained, nothing waits (3 done, 0 failed, 0 other in all)" in rest.decode()
    assert sandbox.stats()["profiles"] == 3
    for n in range(3):
        assert sandbox.find_profile(email=f"wait-{n}@example.com") is not None
