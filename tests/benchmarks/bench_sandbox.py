"""Sandbox benchmark: events/s absorbed through event-bulk-create jobs, and memory at 1M profiles.

Run: .venv/bin/python tests/benchmarks/bench_sandbox.py [--events 100000] [--profiles 1000000]
Prints readable lines, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures.sandbox import REVISION, start_sandbox, stop_sandbox  # noqa: E402

EVENTS_PER_JOB = 1000
EVENTS_PER_PROFILE = 10


def job_body(job_number: int) -> bytes:
    entries = []
    for p in range(EVENTS_PER_JOB // EVENTS_PER_PROFILE):
        profile = {
            "email": f"bench{job_number}-{p}@example.com",
            "external_id": f"b-{job_number}-{p}",
        }
        events = [
            {
                "type": "event",
                "attributes": {
                    "properties": {"order_id": f"{job_number}-{p}-{k}", "total": 19.5, "items": 2},
                    "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order"}}},
                    "value": 19.5,
                    "unique_id": f"{job_number}-{p}-{k}",
                },
            }
            for k in range(EVENTS_PER_PROFILE)
        ]
        entries.append(
            {
                "type": "event-bulk-create",
                "attributes": {
                    "profile": {"data": {"type": "profile", "attributes": profile}},
                    "events": {"data": events},
                },
            }
        )
    body = {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {"events-bulk-create": {"data": entries}},
        }
    }
    return msgspec.json.encode(body)


async def push(base_url: str, api_key: str, bodies: list[bytes] | range, clients: int) -> list[int]:
    """POST the job bodies from `clients` concurrent clients; a range builds bodies on the fly."""
    headers = {
        "Authorization": f"Klaviyo-API-Key {api_key}",
        "revision": REVISION,
        "Content-Type": "application/vnd.api+json",
    }
    queue: asyncio.Queue[bytes | int] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    statuses: list[int] = []

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
            while not queue.empty():
                body = queue.get_nowait()
                if isinstance(body, int):
                    body = job_body(body)
                response = await client.post("/api/event-bulk-create-jobs", content=body)
                statuses.append(response.status_code)

    await asyncio.gather(*(worker() for _ in range(clients)))
    return statuses


def rss_mb(pid: int) -> float:
    """Resident set size of the server process, from Linux's /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("VmRSS not reported")


def wait_events(base_url: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        events = httpx.get(f"{base_url}/__sandbox/stats", timeout=30).json()["events"]
        if events >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--total-events", type=int, default=1_000_000)
    args = parser.parse_args()

    server = start_sandbox({"SANDBOX_RECORD_REQUESTS": "0", "SANDBOX_JOB_DELAY_S": "0.05"})
    pid = server.process.pid
    figures: dict[str, float | int] = {"rss_idle_mb": rss_mb(pid)}
    try:
        jobs = args.events // EVENTS_PER_JOB
        bodies = [job_body(n) for n in range(jobs)]
        started = time.perf_counter()
        statuses = asyncio.run(push(server.base_url, server.api_key, bodies, args.clients))
        accepted = time.perf_counter() - started
        absorbed = wait_events(server.base_url, jobs * EVENTS_PER_JOB, timeout=60)
        elapsed = time.perf_counter() - started
        figures.update(
            {
                "events_sent": jobs * EVENTS_PER_JOB,
                "events_absorbed": absorbed,
                "bulk_jobs": jobs,
                "non_202": sum(1 for s in statuses if s != 202),
                "seconds_to_accept": round(accepted, 2),
                "seconds_to_absorb": round(elapsed, 2),
                "events_per_s": round(absorbed / elapsed),
                "rss_after_events_mb": rss_mb(pid),
            }
        )

        started = time.perf_counter()
        chunk = 100_000
        for _ in range(0, args.profiles, chunk):
            httpx.post(f"{server.base_url}/__sandbox/seed", json={"profiles": chunk}, timeout=120)
        stats = httpx.get(f"{server.base_url}/__sandbox/stats", timeout=60).json()
        figures.update(
            {
                "profiles": stats["profiles"],
                "seed_seconds": round(time.perf_counter() - started, 1),
                "rss_with_profiles_mb": rss_mb(pid),
            }
        )
        started = time.perf_counter()
        more_jobs = range(jobs, args.total_events // EVENTS_PER_JOB)
        asyncio.run(push(server.base_url, server.api_key, more_jobs, args.clients))
        total = wait_events(server.base_url, args.total_events, timeout=90)
        figures.update(
            {
                "events_total": total,
                "fill_seconds": round(time.perf_counter() - started, 1),
                "rss_with_profiles_and_events_mb": rss_mb(pid),
            }
        )
        lookup = httpx.get(
            f"{server.base_url}/api/profiles",
            params={"filter": 'equals(email,"seed999999@sandbox.invalid")'},
            headers={"Authorization": f"Klaviyo-API-Key {server.api_key}", "revision": REVISION},
        )
        figures["lookup_ok_at_1m"] = int(
            lookup.status_code == 200 and len(lookup.json()["data"]) == 1
        )
    finally:
        stop_sandbox(server)

    print(
        f"events: {figures['events_absorbed']} absorbed in {figures['seconds_to_absorb']} s "
        f"= {figures['events_per_s']} events/s ({args.clients} clients, {EVENTS_PER_JOB}/job)"
    )
    print(
        f"memory: idle {figures['rss_idle_mb']} MB, "
        f"after events {figures['rss_after_events_mb']} MB"
    )
    print(
        f"memory: {figures['profiles']} profiles {figures['rss_with_profiles_mb']} MB; plus "
        f"{figures['events_total']} events {figures['rss_with_profiles_and_events_mb']} MB"
    )
    print(json.dumps({"benchmark": "sandbox", **figures}))


if __name__ == "__main__":
    main()
