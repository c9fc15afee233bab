"""The inbox's procrastinate tasks: apply on demand, a periodic sweep, and the consent poll.

The API enqueues `apply_inbox` in the statement that stores a delivery (one job waiting at most,
by its queueing lock); the sweep applies whatever is still pending every few seconds. Both share
a lock, so one apply runs at a time; applying is idempotent anyway (ordering is by event time,
not by run).
"""

from __future__ import annotations

from typing import Any

import structlog
from procrastinate import Blueprint, JobContext
from psycopg_pool import AsyncConnectionPool

from app.config import Config
from app.klaviyo.rate_budget import KlaviyoRateBudget
from app.klaviyo.webhooks.apply import apply_pending
from app.klaviyo.webhooks.polling import PollReport, poll_consent_changes

log = structlog.get_logger(__name__)

# Registered by app.worker under this namespace; the API defers by the full name.
WEBHOOK_TASK_NAMESPACE = "klaviyo_webhooks"
APPLY_TASK = "apply_inbox"
APPLY_TASK_NAME = f"{WEBHOOK_TASK_NAMESPACE}:{APPLY_TASK}"
APPLY_LOCK = "klaviyo.webhooks.apply_inbox"
SWEEP_CRON = "* * * * * */5"
POLL_CRON = "* * * * *"


def _pool_of(context: JobContext) -> AsyncConnectionPool:
    return context.app.connector.pool  # type: ignore[attr-defined]


async def run_consent_poll(
    config: Config, pool: AsyncConnectionPool, http: Any, cipher: Any
) -> PollReport | None:
    """One polling pass when `consent_polling_enabled` (and the master switch) is on and an
    account is connected; None otherwise."""
    from app.klaviyo.client import KlaviyoClient
    from app.klaviyo.credentials import load_credential
    from app.klaviyo.settings import load_settings

    async with pool.connection() as conn:
        settings = await load_settings(conn)
        if not (settings.sync_enabled and settings.consent_polling_enabled):
            return None
        credential = await load_credential(conn, cipher)
    if credential is None:
        return None
    client = KlaviyoClient(config.klaviyo_base_url, credential.api_key, settings.revision, http)
    report = await poll_consent_changes(
        pool,
        client,
        KlaviyoRateBudget(pool, enabled=config.klaviyo_rate_budget),
        account_id=credential.account_id,
        page_size=config.consent_poll_page_size,
    )
    await apply_pending(pool, max_attempts=config.max_attempts)
    return report


def build_webhook_blueprint(config: Config) -> Blueprint:
    """The inbox's tasks, for `app.worker` to register under WEBHOOK_TASK_NAMESPACE."""
    from app.klaviyo.tasks import WorkerResources

    blueprint = Blueprint()
    resources = WorkerResources(config)

    @blueprint.task(name=APPLY_TASK, queueing_lock=APPLY_LOCK, lock=APPLY_LOCK, pass_context=True)
    async def apply_inbox(context: JobContext) -> None:
        await apply_pending(_pool_of(context), max_attempts=config.max_attempts)

    @blueprint.periodic(cron=SWEEP_CRON, periodic_id="sweep")
    @blueprint.task(
        name="sweep_inbox",
        queueing_lock="klaviyo.webhooks.sweep_inbox",
        lock=APPLY_LOCK,
        pass_context=True,
    )
    async def sweep_inbox(context: JobContext, timestamp: int) -> None:
        await apply_pending(_pool_of(context), max_attempts=config.max_attempts)

    @blueprint.periodic(cron=POLL_CRON, periodic_id="poll")
    @blueprint.task(
        name="poll_consent", queueing_lock="klaviyo.webhooks.poll_consent", pass_context=True
    )
    async def poll_consent(context: JobContext, timestamp: int) -> None:
        await run_consent_poll(config, _pool_of(context), resources.http(), resources.cipher())

    return blueprint
