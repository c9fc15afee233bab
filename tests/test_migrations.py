"""The migration runner applies each step once, even when two processes race."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from app.db.migrate import MigrationError, migrate, planned_migrations


def test_second_run_applies_nothing(database_url: str) -> None:
    assert migrate(database_url) == []


def test_every_planned_step_is_recorded(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        recorded = {r[0] for r in conn.execute("SELECT name FROM klaviyo.schema_migrations")}
    assert {step.name for step in planned_migrations()} <= recorded


def test_racing_runners_apply_a_new_file_once(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_race.sql").write_text(
        "CREATE TABLE klaviyo.race_probe (id int PRIMARY KEY);"
        "INSERT INTO klaviyo.race_probe VALUES (1);"
    )
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(database_url, tmp_path))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert sorted(len(r) for r in results) == [0, 0, 1]
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS klaviyo.race_probe")
            conn.execute("DELETE FROM klaviyo.schema_migrations WHERE name = '0001_race.sql'")


def test_edited_migration_is_refused(database_url: str, tmp_path: Path) -> None:
    target = tmp_path / "0001_probe.sql"
    target.write_text("SELECT 1;")
    migrate(database_url, tmp_path)
    target.write_text("SELECT 2;")
    try:
        with pytest.raises(MigrationError, match="0001_probe.sql was changed"):
            migrate(database_url, tmp_path)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM klaviyo.schema_migrations WHERE name = '0001_probe.sql'")
