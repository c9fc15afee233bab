"""Live per-surface progress of the drain, read from the dashboard view, until drained."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from rich.console import Console
from rich.live import Live
from rich.table import Table

SURFACE_COUNTS = """
SELECT surface, waiting, done, failed, other, total
FROM klaviyo.dashboard_surface_status
ORDER BY surface
"""


def _table(rows: list[tuple], rates: dict[str, float], elapsed_s: float) -> Table:
    table = Table(title=f"Sync progress ({elapsed_s:.0f}s)", title_justify="left")
    for column in ("surface", "waiting", "done", "failed", "skipped/deleted", "total", "rate/s"):
        table.add_column(column, justify="left" if column == "surface" else "right")
    for surface, waiting, done, failed, other, total in rows:
        table.add_row(
            surface,
            str(waiting),
            str(done),
            str(failed),
            str(other),
            str(total),
            f"{rates.get(surface, 0.0):.0f}",
        )
    return table


def watch_backlog(
    database_url: str,
    check: Callable[[], None],
    *,
    poll_s: float = 1.0,
    settle_polls: int = 3,
) -> list[tuple]:
    """Redraw the counts every `poll_s` until nothing has waited for `settle_polls` polls in a row
    (a bulk job still in flight counts as waiting); answer the final counts."""
    console = Console()
    started = time.monotonic()
    previous: dict[str, tuple[int, float]] = {}
    rates: dict[str, float] = {}
    quiet = 0
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        Live(console=console, refresh_per_second=4, transient=False) as live,
    ):
        while True:
            check()
            rows = conn.execute(SURFACE_COUNTS).fetchall()
            now = time.monotonic()
            for surface, _w, done, failed, other, _t in rows:
                finished = done + failed + other
                if surface in previous:
                    last_finished, last_time = previous[surface]
                    rates[surface] = max(0.0, (finished - last_finished) / (now - last_time))
                previous[surface] = (finished, now)
            live.update(_table(rows, rates, now - started))
            quiet = quiet + 1 if all(r[1] == 0 for r in rows) else 0
            if quiet >= settle_polls:
                return rows
            time.sleep(poll_s)
