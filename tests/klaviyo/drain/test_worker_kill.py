"""A real worker process killed with SIGKILL mid-drain: nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.fixtures.drain import drain_environment
from tests.klaviyo.drain.rows import event_statuses, insert_events

REPO_ROOT = Path(__file__).resolve().parents[3]
PROCRASTINATE = Path(sys.executable).with_name("procrastinate")
BACKLOG = 30_000


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(PROCRASTINATE), "--app=app.worker.procrastinate_app", "worker"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_until(predicate, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within_s}s")
        await asyncio.sleep(0.05)


async def test_sigkill_mid_drain_loses_nothing_and_duplicates_nothing(
    conn, clean_db, sandbox, encryption_key, connected
) -> None:
    await insert_events(conn, BACKLOG, profiles=200)
    env = drain_environment(clean_db, sandbox.base_url, encryption_key)

    async def some_sent() -> bool:
        return (await event_statuses(conn)).get("sent", 0) >= 3000

    first = start_worker(env)
    try:
        await wait_until(some_sent, within_s=60)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = await event_statuses(conn)
    assert at_kill.get("pending", 0) > 0, "the worker finished before it could be killed"

    async def all_sent() -> bool:
        return await event_statuses(conn) == {"sent": BACKLOG}

    second = start_worker(env)
    try:
        # The dead worker's leases (3 s here) run out; the second worker takes its rows.
        await wait_until(all_sent, within_s=90)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=15)
        except subprocess.TimeoutExpired:
            second.kill()

    sandbox.wait_jobs_done(timeout=20)
    stored = sandbox.control.get("/events", params={"limit": BACKLOG * 2}).json()["data"]
    per_unique_id = Counter(event["unique_id"] for event in stored)
    assert len(per_unique_id) == BACKLOG
    assert max(per_unique_id.values()) == 1
    assert sandbox.stats()["events"] == BACKLOG
