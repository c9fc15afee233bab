"""Bulk jobs: accepted at once, then queued → processing → complete on the event loop.

A job can also be left in `processing` forever (stalled) or end `cancelled` without processing
any of its entries, as Klaviyo may end one; both are set by fault rules.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from app.sandbox.jsonapi import encode_seq, iso, short_id
from app.sandbox.store import Account

MAX_JOBS_IN_PROGRESS = 500


class Job:
    """One bulk job; `work` runs when processing ends and fills the counts and errors."""

    def __init__(
        self, job_id: str, job_type: str, account: Account, total: int, work: Callable[[Job], None]
    ) -> None:
        self.id = job_id
        self.type = job_type
        self.account = account
        self.status = "queued"
        self.created_at = time.time()
        self.started_at: float | None = None
        self.completed_at: float | None = None
        self.total_count = total
        self.completed_count = 0
        self.failed_count = 0
        self.skipped_count = 0
        # Per-item errors as JSON:API error objects with a pointer into the job's request.
        self.errors: list[dict[str, Any]] = []
        # Per-row errors of a profile import, with the row as it was sent.
        self.import_errors: list[dict[str, Any]] = []
        self.result_ids: list[str] = []
        self.stalled = False
        self.cancelled = False
        # Holds the decoded request until it runs; dropped then, so a finished job stays small.
        self._work: Callable[[Job], None] | None = work

    def add_error(self, code: str, detail: str, pointer: str, payload: Any = None) -> None:
        error_id = f"{self.id}-{len(self.errors)}"
        self.errors.append(
            {
                "id": error_id,
                "code": code,
                "title": "Invalid input.",
                "detail": detail,
                "source": {"pointer": pointer},
            }
        )
        self.import_errors.append(
            {
                "type": "import-error",
                "id": error_id,
                "attributes": {
                    "code": code,
                    "title": "Invalid input.",
                    "detail": detail,
                    "source": {"pointer": pointer},
                    "original_payload": payload,
                },
            }
        )
        self.failed_count += 1

    def attributes(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "created_at": iso(self.created_at),
            "total_count": self.total_count,
            "completed_count": self.completed_count,
            "failed_count": self.failed_count,
            "completed_at": iso(self.completed_at),
            "started_at": iso(self.started_at),
            "expires_at": iso(self.created_at + 7 * 86400),
        }


class JobRunner:
    """Owns every job and moves each through its states after a short delay."""

    def __init__(self, phase_delay_s: float) -> None:
        self.phase_delay_s = phase_delay_s
        self.jobs: dict[str, Job] = {}
        self._seq = 0
        # Klaviyo never reuses a job id; a sandbox started again must not either, or a client
        # that remembers its jobs across the restart meets an id it already holds.
        self._started_tag = short_id(4).lower()
        # Jobs queued or processing, kept as counts so no question about them scans every job.
        self._open_by_account: Counter[str] = Counter()
        self._open_by_type: Counter[tuple[str, str]] = Counter()

    def reset(self) -> None:
        # Timers of dropped jobs still fire, find their job gone, and do nothing.
        self.jobs = {}
        self._open_by_account = Counter()
        self._open_by_type = Counter()

    def in_progress(self, account: Account, job_type: str | None = None) -> int:
        if job_type is None:
            return self._open_by_account[account.id]
        return self._open_by_type[(account.id, job_type)]

    def submit(
        self,
        job_type: str,
        account: Account,
        total: int,
        work: Callable[[Job], None],
        stalled: bool = False,
        *,
        cancelled: bool = False,
    ) -> Job:
        self._seq += 1
        job_id = encode_seq("job", self._seq) + self._started_tag + account.id.lower()
        job = Job(job_id, job_type, account, total, work)
        job.stalled = stalled
        job.cancelled = cancelled
        self.jobs[job.id] = job
        self._open_by_account[account.id] += 1
        self._open_by_type[(account.id, job_type)] += 1
        self._later(self._start, job)
        return job

    def find(self, account: Account, job_type: str, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        if job is None or job.account is not account or job.type != job_type:
            return None
        return job

    def pending(self) -> int:
        return self._open_by_account.total()

    def _close(self, job: Job) -> None:
        """The job left queued/processing for good: forget its work and stop counting it."""
        job._work = None
        self._open_by_account[job.account.id] -= 1
        self._open_by_type[(job.account.id, job.type)] -= 1

    def _later(self, callback: Callable[[Job], None], job: Job) -> None:
        asyncio.get_running_loop().call_later(self.phase_delay_s, callback, job)

    def _start(self, job: Job) -> None:
        if self.jobs.get(job.id) is not job:
            return
        if job.cancelled:
            job.status = "cancelled"
            self._close(job)
            return
        job.status = "processing"
        job.started_at = time.time()
        if not job.stalled:
            self._later(self._finish, job)

    def _finish(self, job: Job) -> None:
        if self.jobs.get(job.id) is not job:
            return
        if job._work is not None:
            job._work(job)
        job.status = "complete"
        job.completed_at = time.time()
        self._close(job)
