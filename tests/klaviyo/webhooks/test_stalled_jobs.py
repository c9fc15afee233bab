"""Jobs left `doing` by a dead worker: the stalled-job task puts them back, and an apply job
left by a killed worker never stops the inbox from being applied."""

from __future__ import annotations

from datetime import UTC, datetime

from app.klaviyo.webhooks import topics
from app.klaviyo.webhooks.jobs import APPLY_LOCK, APPLY_TASK_NAME
from app.store.customers import create_customer
from tests.klaviyo.webhooks.records import consent_row, inbox, state_of, store

_DEAD_WORKER = """
INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '10 minutes')
RETURNING id
"""

_DOING_JOB = """
INSERT INTO procrastinate_jobs
    (queue_name, task_name, lock, queueing_lock, args, status, worker_id)
VALUES ('default', %s, %s, %s, %s, 'doing', %s)
RETURNING id
"""


async def _one(conn, query, params=()):
    return (await (await conn.execute(query, params)).fetchone())[0]


async def _job_status(conn, job_id: int) -> str | None:
    cur = await conn.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,))
    row = await cur.fetchone()
    return row[0] if row else None  # successful jobs are deleted when they finish


async def test_a_killed_apply_job_with_a_waiting_twin_does_not_block_the_inbox(conn, drain_config):
    from app.worker import build_app

    customer = await create_customer(conn, email="zoe@example.com")
    await store(
        conn, consent_row(topics.UNSUBSCRIBED_TOPIC, datetime.now(UTC), email="zoe@example.com")
    )

    dead = await _one(conn, _DEAD_WORKER)
    # The apply job a killed worker was running: it holds the apply lock until settled.
    stalled_apply = await _one(
        conn, _DOING_JOB, (APPLY_TASK_NAME, APPLY_LOCK, APPLY_LOCK, "{}", dead)
    )
    # A drain tick of the same dead worker, found after it: it must be retried all the same.
    stalled_tick = await _one(
        conn,
        _DOING_JOB,
        ("klaviyo:drain_events", None, "klaviyo.drain_events", '{"timestamp": 0}', dead),
    )

    worker = build_app(drain_config)
    async with worker.open_async():
        # The waiting twin the API enqueues with each delivery, under the same queueing lock.
        await worker.configure_task(
            APPLY_TASK_NAME, lock=APPLY_LOCK, queueing_lock=APPLY_LOCK
        ).defer_async()
        await worker.configure_task("klaviyo:retry_stalled_jobs").defer_async(timestamp=0)
        for _ in range(3):  # the retry, then what it freed
            await worker.run_worker_async(wait=False, install_signal_handlers=False)

    # The stalled apply job could not go back to the queue (its twin waits there): it is
    # settled as failed, which frees the lock, and the twin applies the inbox.
    assert await _job_status(conn, stalled_apply) == "failed"
    assert [r["status"] for r in await inbox(conn)] == ["applied"]
    assert (await state_of(conn, customer))["subscription_status"] == "unsubscribed"
    # The tick was retried and ran (then deleted as succeeded), not left `doing`.
    assert await _job_status(conn, stalled_tick) is None
    waiting = await _one(
        conn, "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    )
    assert waiting == 0
