"""Reconciliation: the Superstore sample, loaded through the store and drained by a real worker
process into the sandbox, arrives exactly once per fact, with order values equal to the file's.

The expectations are computed here from the raw CSV with the standard library alone, not from
the loader, so a loader bug cannot hide behind its own numbers.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import psycopg
import pytest

from app.config import REPO_ROOT
from app.store.superstore_load import load_superstore
from tests.fixtures.drain import drain_environment

SUPERSTORE = REPO_ROOT.parent / "shared" / "datasets" / "superstore" / "superstore.csv"
pytestmark = pytest.mark.skipif(
    not SUPERSTORE.exists(), reason=f"the Superstore sample is not at {SUPERSTORE}"
)
DRAIN_TIMEOUT_S = 240


def expected_from_file(rejected_lines: set[int]) -> dict[str, object]:
    orders: dict[str, Decimal] = defaultdict(Decimal)
    customers, products, categories, rates, shipped = set(), set(), set(), set(), set()
    lines = 0
    today = datetime.now(UTC).date()
    with SUPERSTORE.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if reader.line_num in rejected_lines:
                continue
            lines += 1
            cents = Decimal(row["Sales"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
            orders[row["Order ID"]] += cents
            customers.add(row["Customer ID"])
            products.add(row["Product ID"])
            categories.add(row["Category"])
            categories.add(f"{row['Category']} > {row['Sub-Category']}")
            if Decimal(row["Discount"]) > 0:
                rates.add(Decimal(row["Discount"]))
            if datetime.strptime(row["Ship Date"], "%d/%m/%y").date() <= today:
                shipped.add(row["Order ID"])
    return {
        "order_values": dict(orders),
        "customers": len(customers),
        "products": len(products),
        "categories": len(categories),
        "discounts": len(rates),
        "lines": lines,
        "shipped": len(shipped),
    }


def wait_drained(url: str, worker: subprocess.Popen[bytes], timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    quiet = 0
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            assert worker.poll() is None, "the worker exited"
            rows = conn.execute(
                "SELECT surface, waiting, done, failed, other FROM klaviyo.dashboard_surface_status"
            ).fetchall()
            quiet = quiet + 1 if all(r[1] == 0 for r in rows) else 0
            if quiet >= 3:
                return {r[0]: r[1:] for r in rows}
            time.sleep(0.5)
    raise AssertionError(f"backlog not drained in {timeout_s}s: {rows}")


def bootstrap_everything(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT klaviyo.bootstrap_profiles(), klaviyo.bootstrap_catalog(),"
            " klaviyo.bootstrap_categories()"
        )


def sandbox_counts(sandbox) -> dict[str, int]:
    stats = sandbox.stats()
    per_metric = stats["events_per_metric"]
    return {
        "profiles": stats["profiles"],
        "placed": per_metric.get("Placed Order", 0),
        "ordered_products": per_metric.get("Ordered Product", 0),
        "fulfilled": per_metric.get("Fulfilled Order", 0),
        "items": stats["catalog_items"],
        "categories": stats["catalog_categories"],
        "coupons": stats["coupons"],
    }


def test_superstore_reaches_klaviyo_exactly_once(
    clean_db: str, sandbox, connected: str, encryption_key: str
) -> None:
    report, parsed = load_superstore(clean_db, SUPERSTORE)
    rejected = {r.line_number for r in parsed.rejected}
    # The file's known contradictions cost a handful of rows, each reported with a reason.
    assert len(rejected) <= 10 and all(r.reason for r in parsed.rejected)
    expected = expected_from_file(rejected)

    env = drain_environment(clean_db, sandbox.base_url, encryption_key, KLAVIYO_TIMEOUT_S="10")
    worker = subprocess.Popen(
        [sys.executable, "-m", "procrastinate", "--app=app.worker.procrastinate_app", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        bootstrap_everything(clean_db)
        settled = wait_drained(clean_db, worker, DRAIN_TIMEOUT_S)
        assert all(counts[2] == 0 for counts in settled.values()), settled
        first = sandbox_counts(sandbox)
        assert first == {
            "profiles": expected["customers"],
            "placed": len(expected["order_values"]),
            "ordered_products": expected["lines"],
            "fulfilled": expected["shipped"],
            "items": expected["products"],
            "categories": expected["categories"],
            "coupons": expected["discounts"],
        }

        values = {}
        for event in sandbox.events(metric="Placed Order"):
            values[event["properties"]["OrderId"]] = Decimal(str(event["value"]))
        assert values == {k: v for k, v in expected["order_values"].items()}

        bootstrap_everything(clean_db)
        wait_drained(clean_db, worker, DRAIN_TIMEOUT_S)
        assert sandbox_counts(sandbox) == first
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
