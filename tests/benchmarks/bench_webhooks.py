"""Webhook ingest benchmark: verified deliveries accepted per second, and their latency.

Run: .venv/bin/python tests/benchmarks/bench_webhooks.py [--deliveries 6000] [--concurrency 12]
The API runs as `python -m app serve` (uvicorn) on a throwaway database of the embedded server
(or of DATABASE_URL's server); the load comes from a separate process writing raw HTTP/1.1 on
kept-alive connections, each delivery signed as Klaviyo signs it, each with its own
external_id. Every delivery is verified, stored durably in the inbox and answered; the test then
checks the inbox holds each one once.
Prints readable lines, then one JSON line with every figure. Bounded by --deliveries and a
deadline (--max-seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
from cryptography.fernet import Fernet
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.config import Config  # noqa: E402
from app.db.embedded import EmbeddedServer  # noqa: E402
from app.db.migrate import migrate  # noqa: E402
from app.klaviyo.credentials import store_webhook_secret_sync  # noqa: E402
from app.klaviyo.secrets import SecretCipher  # noqa: E402
from app.klaviyo.webhooks.signature import expected_signature  # noqa: E402
from tests.fixtures.sandbox import free_port  # noqa: E402

RATE_TARGET = 1000.0
P99_TARGET_MS = 50.0
WEBHOOK_ID = "01BENCHWEBHOOK000000000000"
TOPIC = "event:klaviyo.unsubscribed_from_email_marketing"


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else 0


def delivery(n: int, run: str) -> bytes:
    now = datetime.now(UTC)
    body = {
        "data": [
            {
                "topic": TOPIC,
                "external_id": f"{run}-{n}",
                "payload": {
                    "data": {
                        "type": "event",
                        "id": f"{run}-{n}",
                        "attributes": {
                            "timestamp": int(now.timestamp()),
                            "datetime": now.isoformat(),
                            "event_properties": {"$event_id": f"{run}-{n}"},
                        },
                        "relationships": {
                            "profile": {"data": {"type": "profile", "id": f"P{n % 500}"}},
                            "metric": {"data": {"type": "metric", "id": "UNSUB"}},
                        },
                    },
                    "included": [
                        {
                            "type": "profile",
                            "id": f"P{n % 500}",
                            "attributes": {"email": f"shopper{n % 500}@example.com"},
                        }
                    ],
                },
            }
        ],
        "meta": {
            "klaviyo_webhook_id": WEBHOOK_ID,
            "klaviyo_account_id": "BENCH",
            "timestamp": now.isoformat(),
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signed_request(host: str, path: str, secret: str, body: bytes) -> bytes:
    """One HTTP/1.1 request on a kept-alive connection, signed as Klaviyo signs a delivery."""
    stamp = datetime.now(UTC).isoformat()
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"host: {host}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"klaviyo-webhook-id: {WEBHOOK_ID}\r\n"
        f"klaviyo-timestamp: {stamp}\r\n"
        f"klaviyo-signature: {expected_signature(secret, body, stamp)}\r\n"
        "\r\n"
    )
    return head.encode() + body


async def read_status(reader: asyncio.StreamReader) -> int:
    """Read one whole response off the connection; answer its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
        return status
    while True:  # chunked
        size = int((await reader.readline()).strip(), 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return status


async def load(url: str, secret: str, total: int, concurrency: int, deadline_s: float) -> dict:
    """The load process: `total` signed deliveries over `concurrency` kept-alive connections.

    Requests are built and signed before the clock starts and written as raw bytes, so the load
    costs the shared CPU as little as possible and the figure is the API's, not the client's
    (signatures stay valid: the API allows minutes of skew, a run lasts seconds).
    """
    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    run = uuid.uuid4().hex[:8]
    warm = [signed_request(host, path, secret, delivery(n, f"warm{run}")) for n in range(200)]
    requests = [signed_request(host, path, secret, delivery(n, run)) for n in range(total)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.monotonic() + deadline_s

    async def sender(batch: Iterator[bytes]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for request in batch:
                if time.monotonic() > stop_at:
                    return
                started = time.perf_counter()
                writer.write(request)
                status = await read_status(reader)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    # Warm-up: connections opened, the API's pool and code paths hot.
    await asyncio.gather(*(sender(iter(warm[k::concurrency])) for k in range(concurrency)))
    latencies.clear()
    statuses.clear()
    shared = iter(requests)
    started = time.perf_counter()
    await asyncio.gather(*(sender(shared) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"run": run, "elapsed_s": elapsed, "latencies": latencies, "statuses": statuses}


def run_load(
    url: str, secret: str, total: int, processes: int, concurrency: int, max_seconds: float
) -> dict:
    """The load, from `processes` processes side by side."""
    share = -(-total // processes)
    loaders = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--load",
                url,
                secret,
                "--deliveries",
                str(share),
                "--concurrency",
                str(concurrency),
                "--max-seconds",
                str(max_seconds),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    for loader in loaders:
        out, _ = loader.communicate(timeout=max_seconds + 120)
        results.append(json.loads(out.strip().splitlines()[-1]))
    statuses: dict[str, int] = {}
    for r in results:
        for status, count in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "runs": [r["run"] for r in results],
        # The processes run side by side: the slowest one bounds the wall time.
        "elapsed_s": max(r["elapsed_s"] for r in results),
        "latencies": [ms for r in results for ms in r["latencies"]],
        "statuses": statuses,
    }


def bench_database() -> tuple[str, str, EmbeddedServer | None, bool]:
    external = os.environ.get("DATABASE_URL")
    server, started = None, False
    if external:
        admin = external
    else:
        server = EmbeddedServer(Config.from_environ({}).data_dir)
        started = server.start()
        admin = server.url()
    name = f"klaviyo_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin, make_conninfo(**{**conninfo_to_dict(admin), "dbname": name}), server, started


def start_api(url: str, key: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APP_ENCRYPTION_KEY": key,
        "BETTER_AUTH_SECRET": "bench-secret-0123456789-0123456789",
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        "KLAVIYO_BASE_URL": "http://127.0.0.1:9",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--workers", str(workers)], cwd=REPO, env=env
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the API did not start")
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=6000)
    parser.add_argument("--processes", type=int, default=1, help="load processes")
    parser.add_argument("--concurrency", type=int, default=12, help="connections per process")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument(
        "--api-workers", type=int, default=2, help="API processes (one per core here)"
    )
    parser.add_argument("--load", nargs=2, metavar=("URL", "SECRET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        result = asyncio.run(
            load(args.load[0], args.load[1], args.deliveries, args.concurrency, args.max_seconds)
        )
        print(json.dumps(result))
        return 0

    admin, url, server, started = bench_database()
    key, secret, port = Fernet.generate_key().decode(), uuid.uuid4().hex * 2, free_port()
    api = None
    try:
        migrate(url)
        with psycopg.connect(url) as conn:
            store_webhook_secret_sync(conn, SecretCipher.from_keys([key]), secret)
        api = start_api(url, key, port, args.api_workers)
        result = run_load(
            f"http://127.0.0.1:{port}/webhooks/klaviyo",
            secret,
            args.deliveries,
            args.processes,
            args.concurrency,
            args.max_seconds,
        )
        with psycopg.connect(url) as conn:
            stored = conn.execute(
                "SELECT count(*), count(DISTINCT external_id) FROM klaviyo.webhook_inbox "
                "WHERE split_part(external_id, '-', 1) = ANY(%s)",
                (result["runs"],),
            ).fetchone()
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=10)
        with psycopg.connect(admin, autocommit=True) as conn:
            name = conninfo_to_dict(url)["dbname"]
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if server is not None and started:
            server.stop()

    latencies = result["latencies"]
    accepted = result["statuses"].get("200", 0)
    rate = accepted / result["elapsed_s"]
    figures = {
        "webhook_deliveries": len(latencies),
        "webhook_accepted": accepted,
        "webhook_stored": stored[0],
        "webhook_stored_distinct": stored[1],
        "webhook_load_processes": args.processes,
        "webhook_concurrency": args.processes * args.concurrency,
        "webhook_api_workers": args.api_workers,
        "webhook_accepted_per_s": round(rate, 1),
        "webhook_p50_ms": round(percentile(latencies, 50), 2),
        "webhook_p99_ms": round(percentile(latencies, 99), 2),
        "webhook_max_ms": round(max(latencies), 2),
    }
    figures["webhook_within_target"] = (
        rate >= RATE_TARGET
        and figures["webhook_p99_ms"] <= P99_TARGET_MS
        and accepted == stored[1] == len(latencies)
    )
    print(
        f"{accepted} of {len(latencies)} signed deliveries accepted in {result['elapsed_s']:.2f}s "
        f"= {rate:.0f}/s (target >= {RATE_TARGET:.0f}/s), "
        f"{args.processes} load processes x {args.concurrency} connections, "
        f"{args.api_workers} API processes"
    )
    print(
        f"latency p50 {figures['webhook_p50_ms']} ms, p99 {figures['webhook_p99_ms']} ms "
        f"(target <= {P99_TARGET_MS:.0f} ms), max {figures['webhook_max_ms']} ms"
    )
    print(f"inbox rows stored: {stored[0]} ({stored[1]} distinct external ids)")
    print(json.dumps(figures))
    return 0 if figures["webhook_within_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
