"""Drain ticks as the worker runs them: kill switches, disconnection, retention, the cron."""

from __future__ import annotations

from app.klaviyo.credentials import delete_credential
from app.klaviyo.settings import set_setting
from app.klaviyo.tasks import WorkerResources, delete_old_sent_events, run_tick, tick_cron
from app.store.customers import create_customer
from tests.klaviyo.drain.rows import event_statuses, insert_events, one


async def test_kill_switches_pause_a_surface_and_resume_without_loss(
    conn, db_pool, sandbox, drain_config, connected
) -> None:
    resources = WorkerResources(drain_config)
    await set_setting(conn, "event_sync_enabled", False)
    await insert_events(conn, 120)
    assert await run_tick(resources, db_pool, "event") is None
    await insert_events(conn, 30, prefix="later:")  # rows keep accumulating while paused
    assert await event_statuses(conn) == {"pending": 150}
    assert sandbox.stats()["requests_per_status"] == {}

    # The master switch pauses every surface; its own switch back on is not enough.
    await set_setting(conn, "sync_enabled", False)
    await set_setting(conn, "event_sync_enabled", True)
    assert await run_tick(resources, db_pool, "event") is None

    await set_setting(conn, "sync_enabled", True)
    report = await run_tick(resources, db_pool, "event")
    assert report.sent == 150
    assert await event_statuses(conn) == {"sent": 150}
    sandbox.wait_jobs_done()
    assert len({e["unique_id"] for e in sandbox.events()}) == 150


async def test_profile_switch_pauses_profiles_only(
    conn, db_pool, sandbox, drain_config, connected
) -> None:
    resources = WorkerResources(drain_config)
    await set_setting(conn, "profile_sync_enabled", False)
    await create_customer(conn, customer_id="k1", email="k1@example.com")
    await insert_events(conn, 3)
    assert await run_tick(resources, db_pool, "profile") is None
    assert (await run_tick(resources, db_pool, "event")).sent == 3
    assert await one(conn, "SELECT status FROM klaviyo.profile_state") == "pending"
    await set_setting(conn, "profile_sync_enabled", True)
    assert (await run_tick(resources, db_pool, "profile")).synced == 1


async def test_while_disconnected_rows_stay_pending(
    conn, db_pool, sandbox, drain_config, connected
) -> None:
    resources = WorkerResources(drain_config)
    await delete_credential(conn)
    await insert_events(conn, 10)
    assert await run_tick(resources, db_pool, "event") is None
    assert await event_statuses(conn) == {"pending": 10}
    assert (
        await one(conn, "SELECT count(*) FROM klaviyo.event_outbox WHERE leased_by IS NOT NULL")
        == 0
    )


async def test_retention_deletes_only_old_sent_events(conn, db_pool) -> None:
    await insert_events(conn, 10)
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET status = 'sent', "
        "processed_at = now() - interval '31 days' "
        "WHERE idempotency_key IN ('order:1', 'order:2', 'order:3')"
    )
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET status = 'sent', processed_at = now() - interval '2 days' "
        "WHERE idempotency_key = 'order:4'"
    )
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET status = 'failed', "
        "processed_at = now() - interval '90 days' WHERE idempotency_key = 'order:5'"
    )
    assert await delete_old_sent_events(db_pool, 30) == 3
    assert await event_statuses(conn) == {"pending": 5, "sent": 1, "failed": 1}


def test_tick_cron_has_seconds() -> None:
    assert tick_cron(1.0) == "* * * * * */1"
    assert tick_cron(0.2) == "* * * * * */1"
    assert tick_cron(5) == "* * * * * */5"
    assert tick_cron(120) == "*/2 * * * *"
