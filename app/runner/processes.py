"""Child processes of the main job: started in their own sessions, stopped in order, never orphaned.

Each child gets a session of its own so a Ctrl-C reaches only the main job, which then stops the
children in reverse start order (worker before API before sandbox) and waits for each; a child that
ignores SIGTERM past its grace period is killed with its whole process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog

log = structlog.get_logger(__name__)


@dataclass
class ChildProcess:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            list(self.argv),
            env=dict(self.env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log_file.close()
        log.info("child_started", child=self.name, pid=self.process.pid, log=str(self.log_path))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_s: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=5)
            note(
                "child_killed",
                level="warning",
                child=self.name,
                pid=self.process.pid,
                grace_s=grace_s,
            )
        else:
            # Grandchildren (uvicorn reloaders, pool helpers) share the group: sweep them too.
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        note("child_stopped", child=self.name, returncode=self.process.returncode)


def note(event: str, *, level: str = "info", **facts: object) -> None:
    """Log a step of the main job's shutdown. The terminal may be gone (a closed pipe or window):
    the steps must still all run, so a failed write is dropped."""
    try:
        getattr(log, level)(event, **facts)
    except OSError:
        pass


class ChildGroup:
    """The children of one main job, stopped in reverse order of starting."""

    def __init__(self) -> None:
        self.children: list[ChildProcess] = []

    def start(self, child: ChildProcess) -> ChildProcess:
        child.start()
        self.children.append(child)
        return child

    def first_dead(self) -> ChildProcess | None:
        return next((c for c in self.children if not c.alive()), None)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()


def wait_for_http(url: str, child: ChildProcess, timeout_s: float = 60.0) -> None:
    """Wait until `url` answers below 500, failing fast if the child dies meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited during start-up; see {child.log_path}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{child.name} did not answer {url} within {timeout_s:.0f}s")
