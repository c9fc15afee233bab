"""Migration runner: applies procrastinate's schema and the numbered files of `sql/` once each.

Two processes may start at once (the API and a worker, or two test sessions), so the whole run
holds a session advisory lock; the second waits, then finds nothing left to apply.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import procrastinate
import psycopg
import structlog
from procrastinate.schema import SchemaManager

from app.config import REPO_ROOT

log = structlog.get_logger(__name__)

SQL_DIR = REPO_ROOT / "sql"
MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same in every process that migrates.
ADVISORY_LOCK_KEY = 7_432_019_001


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """The database's recorded migrations disagree with the files shipped."""


def planned_migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """procrastinate's schema first (our tables do not depend on it, its jobs table on nothing),
    then every numbered file in order."""
    steps = [Migration(f"procrastinate_{procrastinate.__version__}", SchemaManager.get_schema())]
    files = sorted(p for p in sql_dir.glob("*.sql") if MIGRATION_NAME.match(p.name))
    numbers = [p.name[:4] for p in files]
    duplicated = {n for n in numbers if numbers.count(n) > 1}
    if duplicated:
        raise MigrationError(f"migrations share the number(s) {sorted(duplicated)} in {sql_dir}")
    steps.extend(Migration(p.name, p.read_text(encoding="utf-8")) for p in files)
    return steps


def migrate(url: str, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply what is missing; answer the names applied by this call."""
    steps = planned_migrations(sql_dir)
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            conn.execute("CREATE SCHEMA IF NOT EXISTS klaviyo")
            conn.execute(
                """
                CREATE TABLE IF NOT EXISTS klaviyo.schema_migrations (
                    name text PRIMARY KEY,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            done: dict[str, str] = dict(
                conn.execute("SELECT name, checksum FROM klaviyo.schema_migrations")
            )
            for step in steps:
                if step.name in done:
                    if done[step.name] != step.checksum:
                        raise MigrationError(
                            f"migration {step.name} was changed after it was applied; "
                            "add a new numbered file instead of editing an applied one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(step.sql.encode())
                    conn.execute(
                        "INSERT INTO klaviyo.schema_migrations (name, checksum) VALUES (%s, %s)",
                        (step.name, step.checksum),
                    )
                applied_now.append(step.name)
                log.info("migration_applied", migration=step.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))
    return applied_now
