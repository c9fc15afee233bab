"""Drain benchmark: throughput against the sandbox, the rate-limit ceiling, list latency, RSS.

Run: .venv/bin/python tests/benchmarks/bench_drain.py [--events 60000] [--naive 1000]
     [--ceiling-s 60] [--list-rows 1000000]
Works on a throwaway database of the embedded server (or of DATABASE_URL's server) and a
sandbox subprocess. Prints readable lines, then one JSON line with every figure.

1. Limits off: two real worker processes (`procrastinate … worker`) drain a backlog; beside it
   a naive baseline in the same run: one procrastinate job and one POST /api/events per event.
2. Limits on (the sandbox enforcing Klaviyo's windows): two worker processes share the rate
   budget; events and 429s are counted over one whole steady-window minute.
3. The admin list endpoints' p95 on tables of a million rows.
4. Worker RSS, sampled while draining.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import psycopg
from cryptography.fernet import Fernet
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from app.config import Config  # noqa: E402
from app.db.embedded import EmbeddedServer  # noqa: E402
from app.db.migrate import migrate  # noqa: E402
from app.klaviyo.secrets import SecretCipher  # noqa: E402
from app.logs import configure_logging  # noqa: E402
from tests.fixtures.sandbox import start_sandbox, stop_sandbox  # noqa: E402

PROCRASTINATE = Path(sys.executable).with_name("procrastinate")
CEILING_EVENTS_PER_MIN = 150 * 1000
TARGETS = {"events_per_s": 5000, "ratio": 20, "ceiling_share": 0.90, "throttled_share": 0.01}

INSERT_EVENTS = """
    INSERT INTO klaviyo.event_outbox
        (idempotency_key, metric_name, customer_id, email, profile, properties, value_cents,
         value_currency, occurred_at)
    SELECT %(prefix)s || n, 'Placed Order', 'cust-' || (n %% 5000),
           'cust-' || (n %% 5000) || '@example.com',
           jsonb_build_object('external_id', 'cust-' || (n %% 5000),
                              'email', 'cust-' || (n %% 5000) || '@example.com'),
           jsonb_build_object('OrderId', n::text, 'ItemNames', jsonb_build_array('Lamp', 'Rug'),
                              'Items', jsonb_build_array(
                                  jsonb_build_object('ProductID', 'p1', 'SKU', 'L-1',
                                                     'ItemPrice_cents', 1999, 'Quantity', 1),
                                  jsonb_build_object('ProductID', 'p2', 'SKU', 'R-2',
                                                     'ItemPrice_cents', 4999, 'Quantity', 1))),
           6998, 'USD', now() - interval '1 minute'
    FROM generate_series(1, %(count)s) AS n
"""


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def throwaway_database() -> tuple[str, str]:
    config = Config.from_environ()
    if config.database_url:
        admin = config.database_url
    else:
        server = EmbeddedServer(config.data_dir)
        server.start()
        admin = server.url()
    name = f"klaviyo_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin, make_conninfo(**{**conninfo_to_dict(admin), "dbname": name})


def drop_database(admin: str, url: str) -> None:
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def connect_account(url: str, key: str, api_key: str, account_id: str) -> None:
    cipher = SecretCipher.from_keys([key])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO klaviyo.credential (singleton, api_key_encrypted, account_id) "
            "VALUES (true, %s, %s) ON CONFLICT (singleton) DO NOTHING",
            (cipher.encrypt(api_key), account_id),
        )


def count_status(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM klaviyo.event_outbox GROUP BY status"
        ).fetchall()
    return dict(rows)


def worker_env(url: str, sandbox_url: str, key: str, *, budget: bool) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "KLAVIYO_BASE_URL": sandbox_url,
        "APP_ENCRYPTION_KEY": key,
        "KLAVIYO_RATE_BUDGET": "1" if budget else "0",
        "KLAVIYO_DRAIN_TICK_S": "1",
        "KLAVIYO_DRAIN_SLICE_S": "10",
        "LOG_LEVEL": "warning",
    }


def start_workers(env: dict[str, str], count: int = 2) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [str(PROCRASTINATE), "--app=app.worker.procrastinate_app", "worker"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def rss_mb(workers: list[subprocess.Popen[bytes]]) -> list[float]:
    sizes = []
    for worker in workers:
        try:
            sizes.append(psutil.Process(worker.pid).memory_info().rss / 1e6)
        except psutil.NoSuchProcess:
            sizes.append(0.0)
    return sizes


def naive_baseline(url: str, sandbox, count: int) -> float:
    """One procrastinate job per event, each doing one POST /api/events: events per second."""
    import procrastinate

    from app.klaviyo.payloads.events import event_create_body

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(INSERT_EVENTS, {"prefix": "naive:", "count": count})
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id::text FROM klaviyo.event_outbox WHERE idempotency_key LIKE 'naive:%'"
            ).fetchall()
        ]
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    headers = {
        "Authorization": f"Klaviyo-API-Key {sandbox.api_key}",
        "revision": "2026-07-15",
        "content-type": "application/vnd.api+json",
    }

    async def run() -> float:
        http = httpx.AsyncClient(base_url=sandbox.base_url, headers=headers, timeout=10)

        @app.task(name="naive_push_event", pass_context=True)
        async def naive_push_event(context, event_id: str) -> None:
            pool = context.app.connector.pool
            async with pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT idempotency_key, unique_id, metric_name, customer_id, email, "
                    "profile, properties, value_cents, value_currency, occurred_at, backfill "
                    "FROM klaviyo.event_outbox WHERE id = %s",
                    (event_id,),
                )
                names = [d.name for d in cur.description]
                row = dict(zip(names, await cur.fetchone(), strict=True))
            response = await http.post("/api/events", json=event_create_body(row))
            response.raise_for_status()
            async with pool.connection() as conn:
                await conn.execute(
                    "UPDATE klaviyo.event_outbox SET status = 'sent', processed_at = now() "
                    "WHERE id = %s",
                    (event_id,),
                )

        async with app.open_async():
            await naive_push_event.batch_defer_async(*({"event_id": i} for i in ids))
            started = time.perf_counter()
            await app.run_worker_async(wait=False, install_signal_handlers=False)
            elapsed = time.perf_counter() - started
        await http.aclose()
        return count / elapsed

    rate = asyncio.run(run())
    with psycopg.connect(url, autocommit=True) as conn:
        sent = conn.execute(
            "SELECT count(*) FROM klaviyo.event_outbox "
            "WHERE idempotency_key LIKE 'naive:%%' AND status = 'sent'"
        ).fetchone()[0]
        conn.execute("DELETE FROM klaviyo.event_outbox WHERE idempotency_key LIKE 'naive:%'")
    assert sent == count, f"naive baseline sent {sent} of {count}"
    return rate


def drain_throughput(url: str, sandbox_url: str, key: str, count: int) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(INSERT_EVENTS, {"prefix": "fast:", "count": count})
        conn.execute("VACUUM ANALYZE klaviyo.event_outbox")
    workers = start_workers(worker_env(url, sandbox_url, key, budget=False))
    rss: list[float] = []
    first_sent_at = None
    try:
        # A million-row backlog takes minutes; counting it by status is a scan of the table, so
        # a large backlog is polled less often to leave the database to the drain.
        deadline = time.monotonic() + 120 + count / 2000
        poll_s = 0.1 if count <= 100_000 else 1.0
        while time.monotonic() < deadline:
            statuses = count_status(url)
            if first_sent_at is None and statuses.get("sent"):
                first_sent_at = time.perf_counter()
                first_sent = statuses["sent"]
            if statuses.get("sent", 0) == count:
                break
            rss.append(max(rss_mb(workers)))
            time.sleep(poll_s)
        finished_at = time.perf_counter()
    finally:
        stop_workers(workers)
    sent = count_status(url).get("sent", 0)
    assert sent == count, f"drained {sent} of {count} within the time limit"
    elapsed = finished_at - first_sent_at
    return {
        "events": count,
        "seconds": round(elapsed, 2),
        "events_per_s": round((count - first_sent) / elapsed),
        "worker_rss_mb_max": round(max(rss), 1),
    }


def at_the_ceiling(url: str, sandbox, key: str, window_s: int) -> dict[str, float]:
    """Two workers against Klaviyo's limits; counted over one whole steady-window minute."""
    backlog = int(CEILING_EVENTS_PER_MIN * (window_s + 75) / 60)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE klaviyo.event_outbox, klaviyo.rate_budget")
        conn.execute(INSERT_EVENTS, {"prefix": "ceiling:", "count": backlog})
        conn.execute("VACUUM ANALYZE klaviyo.event_outbox")
    sandbox.reset(rate_limits="klaviyo")
    workers = start_workers(worker_env(url, sandbox.base_url, key, budget=True))
    rss: list[float] = []
    try:
        # Measure from one minute boundary (Klaviyo's windows are epoch minutes) to the next.
        start_at = (int(time.time() // 60) + 1) * 60
        if start_at - time.time() < 5:
            start_at += 60
        while time.time() < start_at:
            rss.append(max(rss_mb(workers)))
            time.sleep(0.5)
        sent_before = count_status(url).get("sent", 0)
        statuses_before = sandbox.stats()["requests_per_status"]
        while time.time() < start_at + window_s:
            rss.append(max(rss_mb(workers)))
            time.sleep(0.5)
        sent_after = count_status(url).get("sent", 0)
        statuses_after = sandbox.stats()["requests_per_status"]
    finally:
        stop_workers(workers)
    requests = {k: statuses_after.get(k, 0) - statuses_before.get(k, 0) for k in statuses_after}
    total_requests = sum(requests.values())
    per_min = (sent_after - sent_before) * 60 / window_s
    return {
        "window_s": window_s,
        "events_per_min": round(per_min),
        "ceiling_events_per_min": CEILING_EVENTS_PER_MIN,
        "ceiling_share": round(per_min / CEILING_EVENTS_PER_MIN, 3),
        "requests": total_requests,
        "throttled_429": requests.get("429", 0),
        "throttled_share": round(requests.get("429", 0) / max(1, total_requests), 4),
        "worker_rss_mb_max": round(max(rss), 1),
        "drained_during_run": count_status(url).get("sent", 0),
    }


def list_latency(url: str, rows: int, requests: int) -> dict[str, float]:
    """p95 of the admin list endpoints on `rows`-row tables (1 % of them failed)."""
    from app.auth.signing import sign_token
    from app.auth.tokens import create_session
    from app.db.pool import open_pool
    from app.http.factory import create_app

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE klaviyo.event_outbox, klaviyo.profile_state")
        conn.execute(
            """
            INSERT INTO klaviyo.profile_state
                (customer_id, email, status, updated_at, last_error, attempts)
            SELECT 'c' || n, 'c' || n || '@example.com',
                   CASE WHEN n %% 100 = 0 THEN 'failed' ELSE 'synced' END,
                   now() - n * interval '1 second',
                   CASE WHEN n %% 100 = 0 THEN 'profiles row: Klaviyo 400 invalid' END, 1
            FROM generate_series(1, %s) AS n
            """,
            (rows,),
        )
        conn.execute(INSERT_EVENTS, {"prefix": "list:", "count": rows})
        conn.execute(
            "UPDATE klaviyo.event_outbox SET status = 'failed', last_error = 'x' "
            "WHERE substr(idempotency_key, 6)::int % 100 = 0"
        )
        conn.execute("VACUUM ANALYZE klaviyo.event_outbox, klaviyo.profile_state")

    secret, key = "bench-secret-" + uuid.uuid4().hex, Fernet.generate_key().decode()
    config = Config.from_environ(
        {
            "DATABASE_URL": url,
            "BETTER_AUTH_SECRET": secret,
            "APP_ENCRYPTION_KEY": key,
            "LOG_LEVEL": "warning",
        }
    )
    paths = {
        "profiles": "/admin/klaviyo/profiles",
        "profiles_failed": "/admin/klaviyo/profiles/failed",
        "events_failed": "/admin/klaviyo/events/failed",
    }

    async def run() -> dict[str, float]:
        pool = await open_pool(url, min_size=2, max_size=4)
        app = create_app(config, pool=pool)
        figures: dict[str, float] = {}
        async with app.lifespan():
            async with pool.connection() as conn:
                token = await create_session(conn, email="bench@example.test", role="admin")
            headers = {"Authorization": f"Bearer {sign_token(token, secret)}"}
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for name, path in paths.items():
                    timings = []
                    for n in range(requests):
                        page = 1 + n % 20  # the first twenty pages, as an operator pages
                        started = time.perf_counter()
                        response = await client.get(f"{path}?page={page}&limit=50", headers=headers)
                        timings.append((time.perf_counter() - started) * 1000)
                        assert response.status_code == 200, response.text
                    figures[f"{name}_p95_ms"] = round(percentile(timings[5:], 95), 2)
                    figures[f"{name}_total"] = response.json()["metadata"]["total"]
        await pool.close()
        return figures

    return {"rows": rows, **asyncio.run(run())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--naive", type=int, default=1_000)
    parser.add_argument("--ceiling-s", type=int, default=60)
    parser.add_argument("--list-rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("limits_off", "limits_on", "lists"), default=None)
    args = parser.parse_args()
    configure_logging("console", "warning")

    admin, url = throwaway_database()
    migrate(url)
    key = Fernet.generate_key().decode()
    server = start_sandbox({"SANDBOX_RECORD_REQUESTS": "0", "SANDBOX_JOB_DELAY_S": "0.05"})
    from tests.fixtures.sandbox import SandboxControl

    sandbox = SandboxControl(server.base_url, server.api_key)
    figures: dict[str, object] = {}
    try:
        connect_account(url, key, sandbox.api_key, sandbox.account_id)
        if args.only in (None, "limits_off"):
            naive = naive_baseline(url, sandbox, args.naive)
            fast = drain_throughput(url, sandbox.base_url, key, args.events)
            figures["limits_off"] = {
                **fast,
                "naive_events_per_s": round(naive, 1),
                "naive_sample": args.naive,
                "ratio": round(fast["events_per_s"] / naive, 1),
            }
            print(
                f"limits off: {fast['events']} events in {fast['seconds']} s = "
                f"{fast['events_per_s']} events/s (target >= {TARGETS['events_per_s']}); naive "
                f"baseline {naive:.0f} events/s on {args.naive}; ratio "
                f"{figures['limits_off']['ratio']}x (target >= {TARGETS['ratio']}x); "
                f"worker RSS max {fast['worker_rss_mb_max']} MB",
                flush=True,
            )
            sandbox.reset()
        if args.only in (None, "limits_on"):
            ceiling = at_the_ceiling(url, sandbox, key, args.ceiling_s)
            figures["limits_on"] = ceiling
            print(
                f"limits on: {ceiling['events_per_min']} events/min over {ceiling['window_s']} s "
                f"= {ceiling['ceiling_share']:.1%} of the {CEILING_EVENTS_PER_MIN} ceiling "
                f"(target >= 90%); 429s {ceiling['throttled_429']} of {ceiling['requests']} "
                f"requests = {ceiling['throttled_share']:.2%} (target <= 1%); worker RSS max "
                f"{ceiling['worker_rss_mb_max']} MB",
                flush=True,
            )
            sandbox.reset()
        if args.only in (None, "lists"):
            lists = list_latency(url, args.list_rows, 200)
            figures["lists"] = lists
            print(
                f"lists on {lists['rows']} rows: profiles p95 {lists['profiles_p95_ms']} ms, "
                f"profiles/failed p95 {lists['profiles_failed_p95_ms']} ms, events/failed p95 "
                f"{lists['events_failed_p95_ms']} ms (target <= 50 ms)",
                flush=True,
            )
    finally:
        sandbox.close()
        stop_sandbox(server)
        drop_database(admin, url)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
