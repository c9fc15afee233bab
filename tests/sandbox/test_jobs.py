"""Bulk job bookkeeping: finished jobs let go of their request, and counts need no scan."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest

from app.sandbox.jobs import Job, JobRunner
from app.sandbox.store import Account

pytestmark = pytest.mark.asyncio
DELAY_S = 0.01


class Payload:
    """Stands for a decoded bulk request: only the job's work refers to it."""


class NoScan(dict):
    """The runner's job table, refusing to be walked: a count that scans it fails loudly."""

    def values(self) -> Any:
        raise AssertionError("the job table was scanned")

    def items(self) -> Any:
        raise AssertionError("the job table was scanned")

    def __iter__(self) -> Any:
        raise AssertionError("the job table was scanned")


async def _settle(runner: JobRunner) -> None:
    for _ in range(100):
        await asyncio.sleep(DELAY_S)
        if runner.pending() == 0:
            return


def _work_holding(payload: Payload, seen: list[int]) -> Any:
    def work(job: Job) -> None:
        seen.append(id(payload))
        job.completed_count = job.total_count

    return work


async def test_a_finished_job_lets_go_of_its_request():
    runner = JobRunner(DELAY_S)
    account = Account("pk_sandbox_jobs_test_key_000001")
    payload, seen = Payload(), []
    alive = weakref.ref(payload)
    job = runner.submit("event-bulk-create-job", account, 3, _work_holding(payload, seen))
    del payload

    await _settle(runner)
    gc.collect()

    assert job.status == "complete" and job.completed_count == 3 and len(seen) == 1
    assert alive() is None
    assert runner.jobs[job.id] is job  # the job itself can still be read


async def test_a_cancelled_job_lets_go_of_its_request_without_running_it():
    runner = JobRunner(DELAY_S)
    account = Account("pk_sandbox_jobs_test_key_000001")
    payload, seen = Payload(), []
    alive = weakref.ref(payload)
    job = runner.submit("catalog-item-bulk-create-job", account, 1, _work_holding(payload, seen))
    job.cancelled = True
    del payload

    await _settle(runner)
    gc.collect()

    assert job.status == "cancelled" and seen == []
    assert alive() is None
    assert runner.in_progress(account) == 0


async def test_counts_follow_the_jobs_without_walking_them():
    runner = JobRunner(DELAY_S)
    first = Account("pk_sandbox_jobs_test_key_000001")
    second = Account("pk_sandbox_jobs_test_key_000002")
    runner.jobs = NoScan()
    for _ in range(200):
        runner.submit("catalog-item-bulk-create-job", first, 1, lambda job: None)
    await _settle(runner)

    runner.submit("catalog-item-bulk-create-job", first, 1, lambda job: None)
    runner.submit("catalog-item-bulk-create-job", first, 1, lambda job: None, stalled=True)
    runner.submit("event-bulk-create-job", first, 1, lambda job: None)
    runner.submit("event-bulk-create-job", second, 1, lambda job: None)

    assert runner.pending() == 4
    assert runner.in_progress(first) == 3
    assert runner.in_progress(first, "catalog-item-bulk-create-job") == 2
    assert runner.in_progress(second, "catalog-item-bulk-create-job") == 0
    assert runner.in_progress(second) == 1

    await _settle(runner)
    await asyncio.sleep(DELAY_S * 3)

    # Only the stalled job is still processing.
    assert runner.pending() == 1
    assert runner.in_progress(first) == 1
    assert runner.in_progress(second) == 0
    assert len(runner.jobs) == 204


async def test_reset_forgets_the_counts():
    runner = JobRunner(DELAY_S)
    account = Account("pk_sandbox_jobs_test_key_000001")
    runner.submit("event-bulk-create-job", account, 1, lambda job: None, stalled=True)

    runner.reset()
    await asyncio.sleep(DELAY_S * 3)

    assert runner.pending() == 0
    assert runner.in_progress(account) == 0
