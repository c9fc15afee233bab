"""Which data the main job puts into an empty store: the demo store or the Superstore sample."""

from __future__ import annotations

import psycopg

from app.config import REPO_ROOT
from app.store.demo import load_demo_store
from app.store.superstore_load import load_superstore

SUPERSTORE_PATH = REPO_ROOT.parent / "shared" / "datasets" / "superstore" / "superstore.csv"


def store_is_empty(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM core.customers)"
            " AND NOT EXISTS (SELECT 1 FROM core.products)"
        ).fetchone()
    return bool(row and row[0])


def load_dataset_if_empty(database_url: str, dataset: str) -> str | None:
    """Load `dataset` when the store has no customers and no products; answer what was loaded."""
    if not store_is_empty(database_url):
        return None
    if dataset == "demo":
        return load_demo_store(database_url)
    if dataset == "superstore":
        if not SUPERSTORE_PATH.exists():
            raise FileNotFoundError(
                f"DATASET=superstore needs {SUPERSTORE_PATH}; it is not on this machine"
            )
        report, parsed = load_superstore(database_url, SUPERSTORE_PATH)
        # Rows the loader could not use are reported, never guessed at.
        reasons = [f"\n  rejected line {r.line_number}: {r.reason}" for r in parsed.rejected]
        return report.summary() + "".join(reasons)
    raise ValueError(f"unknown dataset {dataset!r}: choose demo or superstore")
