"""The module's procrastinate tasks: a drain tick per surface, and the queue's housekeeping.

Each surface's tick is a periodic task (every `drain_tick_s`, cron with seconds) with a
queueing lock, so at most one tick waits per surface however long the running ones take. A tick
drains until the backlog is empty or its time slice (`drain_slice_s`) ends. A tick does nothing
while its kill switch is off or no Klaviyo account is connected: rows keep accumulating as
`pending` and go out once the switch is back on or the account reconnected.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
from typing import Any

import httpx
import structlog
from procrastinate import Blueprint, JobContext
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Status
from procrastinate.manager import JobManager
from psycopg_pool import AsyncConnectionPool

from app.config import Config
from app.klaviyo.catalog.tasks import register_catalog_tasks
from app.klaviyo.drain.context import DrainContext
from app.klaviyo.drain.events import drain_events
from app.klaviyo.drain.profiles import drain_profiles
from app.klaviyo.drain.retry import RetryPolicy
from app.klaviyo.rate_budget import KlaviyoRateBudget

log = structlog.get_logger(__name__)

# Deletes in chunks so the retention job never holds a long lock on the outbox.
DELETE_OLD_SENT_EVENTS = """
    DELETE FROM klaviyo.event_outbox
    WHERE id IN (
        SELECT id FROM klaviyo.event_outbox
        WHERE status = 'sent' AND processed_at < now() - make_interval(days => %(days)s)
        LIMIT %(chunk)s
    )
"""
RETENTION_CHUNK = 10_000
# Finished jobs of the queue: successful ticks go after an hour, failed ones after a day.
SUCCEEDED_JOB_HOURS = 1
FAILED_JOB_HOURS = 24
# A job whose worker sent no heartbeat for this long was left by a dead worker.
STALLED_AFTER_S = 30.0


def tick_cron(tick_s: float) -> str:
    """A procrastinate cron (seconds as the sixth field) firing every `tick_s` seconds."""
    seconds = max(1, math.ceil(tick_s))
    if seconds >= 60:
        return f"*/{max(1, seconds // 60)} * * * *"
    return f"* * * * * */{seconds}"


class WorkerResources:
    """What one worker process shares between ticks: its HTTP client and the rate budget."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._http: httpx.AsyncClient | None = None
        self._cipher: Any = None
        self._draining: dict[str, asyncio.Lock] = {}

    def drain_lock(self, surface: str) -> asyncio.Lock:
        """One drain per surface per process: more would only queue behind the rate budget
        with rows leased, and crowd the event loop between a reservation and its request."""
        return self._draining.setdefault(surface, asyncio.Lock())

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.config.klaviyo_timeout_s,
                limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            )
        return self._http

    def cipher(self) -> Any:
        if self._cipher is None:
            from app.klaviyo.secrets import SecretCipher
            from app.local_secrets import with_local_secrets

            # A worker started by hand on a developer machine finds the key `make run` and the
            # API generated under the data directory, so it can read the stored Klaviyo key.
            keys = with_local_secrets(self.config, sessions=False).app_encryption_keys
            self._cipher = SecretCipher.from_keys(keys)
        return self._cipher

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.config.max_attempts,
            base_s=self.config.drain_backoff_base_s,
            cap_s=self.config.drain_backoff_cap_s,
        )


async def open_drain(
    resources: WorkerResources, pool: AsyncConnectionPool, surface: str
) -> DrainContext | None:
    """The tick's context, or None when the surface is switched off or no account is
    connected (then nothing is claimed, so nothing can be lost)."""
    from app.klaviyo.client import KlaviyoClient
    from app.klaviyo.credentials import load_credential
    from app.klaviyo.settings import load_settings

    config = resources.config
    async with pool.connection() as conn:
        settings = await load_settings(conn)
        if not settings.surface_enabled(surface):  # type: ignore[arg-type]
            log.debug("drain_paused", surface=surface, reason="switched_off")
            return None
        credential = await load_credential(conn, resources.cipher())
    if credential is None:
        log.debug("drain_paused", surface=surface, reason="disconnected")
        return None
    client = KlaviyoClient(
        config.klaviyo_base_url, credential.api_key, settings.revision, resources.http()
    )
    return DrainContext(
        pool=pool,
        klaviyo=client,
        budget=KlaviyoRateBudget(pool, enabled=config.klaviyo_rate_budget),
        account_id=credential.account_id,
        policy=resources.policy(),
        worker=resources.worker,
        batch_size=config.drain_batch_size,
        lease_s=config.drain_lease_s,
        deadline=time.monotonic() + config.drain_slice_s,
    )


async def run_tick(resources: WorkerResources, pool: AsyncConnectionPool, surface: str) -> Any:
    """One drain tick of `surface` ("event" or "profile"); answers its report, or None when the
    surface is paused or this process is already draining it."""
    lock = resources.drain_lock(surface)
    if lock.locked():
        return None
    async with lock:
        ctx = await open_drain(resources, pool, surface)
        if ctx is None:
            return None
        if surface == "event":
            return await drain_events(ctx, parallel=resources.config.drain_parallel)
        return await drain_profiles(ctx)


async def retry_stalled_jobs(manager: JobManager, seconds_since_heartbeat: float) -> dict[str, int]:
    """Puts the jobs of dead workers back in the queue; answers counts per outcome.

    A stalled job whose queueing lock is already held by a waiting twin (the API keeps one
    `apply_inbox` waiting; a periodic tick queues its next run) cannot go back to the queue: it
    is finished as failed instead, and the twin does its work (ticks and applies are
    idempotent). One job's trouble never stops the others from being retried.
    """
    counts = {"retried": 0, "failed": 0, "errors": 0}
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
    for job in stalled:
        try:
            try:
                await manager.retry_job(job)
            except UniqueViolation as exc:
                if exc.queueing_lock is None:
                    raise
                await manager.finish_job(job, Status.FAILED, delete_job=False)
                counts["failed"] += 1
                log.info(
                    "stalled_job_failed",
                    job_id=job.id,
                    task=job.task_name,
                    reason="a job with the same queueing lock is already waiting",
                )
                continue
        except Exception as exc:  # e.g. another worker settled the job meanwhile
            counts["errors"] += 1
            log.warning(
                "stalled_job_retry_failed", job_id=job.id, task=job.task_name, error=repr(exc)
            )
            continue
        counts["retried"] += 1
        log.info("stalled_job_retried", job_id=job.id, task=job.task_name)
    return counts


async def delete_old_sent_events(pool: AsyncConnectionPool, days: int) -> int:
    deleted = 0
    while True:
        async with pool.connection() as conn:
            cur = await conn.execute(
                DELETE_OLD_SENT_EVENTS, {"days": days, "chunk": RETENTION_CHUNK}
            )
        deleted += cur.rowcount
        if cur.rowcount < RETENTION_CHUNK:
            return deleted


def build_blueprint(config: Config) -> Blueprint:
    """The module's tasks, for `app.worker` to register when the module is enabled."""
    blueprint = Blueprint()
    resources = WorkerResources(config)
    tick = tick_cron(config.drain_tick_s)

    def pool_of(context: JobContext) -> AsyncConnectionPool:
        return context.app.connector.pool  # type: ignore[attr-defined]

    @blueprint.periodic(cron=tick, periodic_id="events")
    @blueprint.task(name="drain_events", queueing_lock="klaviyo.drain_events", pass_context=True)
    async def drain_events_tick(context: JobContext, timestamp: int) -> None:
        await run_tick(resources, pool_of(context), "event")

    @blueprint.periodic(cron=tick, periodic_id="profiles")
    @blueprint.task(
        name="drain_profiles", queueing_lock="klaviyo.drain_profiles", pass_context=True
    )
    async def drain_profiles_tick(context: JobContext, timestamp: int) -> None:
        await run_tick(resources, pool_of(context), "profile")

    @blueprint.periodic(cron="* * * * * */15", periodic_id="stalled")
    @blueprint.task(
        name="retry_stalled_jobs",
        queueing_lock="klaviyo.retry_stalled_jobs",
        pass_context=True,
    )
    async def retry_stalled_jobs_task(context: JobContext, timestamp: int) -> None:
        await retry_stalled_jobs(context.app.job_manager, STALLED_AFTER_S)

    @blueprint.periodic(cron="*/10 * * * *", periodic_id="prune")
    @blueprint.task(
        name="prune_finished_jobs",
        queueing_lock="klaviyo.prune_finished_jobs",
        pass_context=True,
    )
    async def prune_finished_jobs(context: JobContext, timestamp: int) -> None:
        manager = context.app.job_manager
        await manager.delete_old_jobs(nb_hours=SUCCEEDED_JOB_HOURS)
        await manager.delete_old_jobs(
            nb_hours=FAILED_JOB_HOURS,
            include_failed=True,
            include_cancelled=True,
            include_aborted=True,
        )

    @blueprint.periodic(cron="*/10 * * * *", periodic_id="retention")
    @blueprint.task(
        name="delete_old_sent_events",
        queueing_lock="klaviyo.delete_old_sent_events",
        pass_context=True,
    )
    async def delete_old_sent_events_task(context: JobContext, timestamp: int) -> None:
        deleted = await delete_old_sent_events(pool_of(context), config.event_retention_days)
        if deleted:
            log.info("sent_events_deleted", deleted=deleted, days=config.event_retention_days)

    register_catalog_tasks(blueprint, resources, tick, pool_of)
    return blueprint
