"""The SQL dashboards an operator points psql, Grafana or Metabase at, over real rows."""

from __future__ import annotations

from tests.klaviyo.drain.rows import insert_events


async def _rows(conn, query: str) -> list[tuple]:
    return await (await conn.execute(query)).fetchall()


async def test_status_backlog_failures_and_throughput_per_surface(conn) -> None:
    await insert_events(conn, 6)
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET status = 'sent', processed_at = now() "
        "WHERE idempotency_key IN ('order:1', 'order:2')"
    )
    for key in ("order:3", "order:4"):  # the same complaint about two rows
        await conn.execute(
            "UPDATE klaviyo.event_outbox SET status = 'failed', "
            "last_error = 'events row ' || id || ': Klaviyo 400 invalid: bad time' "
            "WHERE idempotency_key = %s",
            (key,),
        )
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET enqueued_at = now() - interval '10 minutes', "
        "next_attempt_at = now() + interval '1 minute' WHERE idempotency_key = 'order:5'"
    )

    status = await _rows(
        conn,
        "SELECT waiting, done, failed, other, total FROM klaviyo.dashboard_surface_status "
        "WHERE surface = 'events'",
    )
    assert status == [(2, 2, 2, 0, 6)]

    waiting, backing_off, age_s = (
        await _rows(
            conn,
            "SELECT waiting, backing_off, oldest_pending_age_s FROM klaviyo.dashboard_backlog "
            "WHERE surface = 'events'",
        )
    )[0]
    assert (waiting, backing_off) == (2, 1) and 595 <= age_s <= 700

    failures = await _rows(conn, "SELECT surface, error, rows FROM klaviyo.dashboard_failures")
    assert failures == [("events", "Klaviyo 400 invalid: bad time", 2)]

    done = await _rows(
        conn,
        "SELECT sum(rows_done) FROM klaviyo.dashboard_throughput WHERE surface = 'events'",
    )
    assert done == [(2,)]


async def test_bulk_jobs_in_flight_lists_only_unsettled_jobs(conn) -> None:
    for job, status in (("job-a", "in_progress"), ("job-b", "complete"), ("job-c", "cancelled")):
        await conn.execute(
            "INSERT INTO klaviyo.catalog_bulk_jobs "
            "(klaviyo_job_id, resource, operation, row_ids, status, deadline) "
            "VALUES (%s, 'item', 'create', '{}', %s, now() + interval '5 minutes')",
            (job, status),
        )
    rows = await _rows(conn, "SELECT klaviyo_job_id FROM klaviyo.dashboard_bulk_jobs_in_flight")
    assert rows == [("job-a",)]
