"""The main job end to end: `python -m app run` on a fresh data directory reaches
"backlog drained" with no manual step, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fixtures.sandbox import free_port

DRAINED = "backlog drained"


class OutputReader:
    """Collects a child's output on a thread, so the test can wait for a line with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if needle in self.text():
                return self.text()
            if self.process.poll() is not None:
                self.join(5)
                break
            time.sleep(0.2)
        raise AssertionError(f"{needle!r} not printed in {timeout_s}s:\n{self.text()[-3000:]}")

    def join(self, timeout_s: float) -> str:
        self._thread.join(timeout_s)
        return self.text()


def _running(pid: int) -> bool:
    # The daemonised server is reaped by init, which may leave a zombie for a moment.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _start_main_job(env: dict[str, str]) -> tuple[subprocess.Popen[str], OutputReader]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, OutputReader(process)


def _postgres_pid(data_dir: Path) -> int:
    return int((data_dir / "pg" / "data" / "postmaster.pid").read_text().splitlines()[0])


def _stop(process: subprocess.Popen[str], reader: OutputReader, sig: int, children: list) -> str:
    """Send `sig` to the main job; answers what it printed last, having checked that it said
    every process stopped and that no child of it is left."""
    process.send_signal(sig)
    process.wait(timeout=60)
    rest = reader.join(10)
    assert "no process of the main job is left running" in rest
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    return rest


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: the embedded server runs as its own user, which must traverse every
    # parent, and pytest keeps its temporary root private to root.
    path = Path(tempfile.mkdtemp(prefix="klaviyo-main-job-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_make_run_drains_the_demo_store_and_stops_cleanly(data_dir: Path) -> None:
    api_port, sandbox_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KLAVIYO_BASE_URL"}},
        "DATA_DIR": str(data_dir),
        "PORT": str(api_port),
        "SANDBOX_PORT": str(sandbox_port),
        "LOG_FORMAT": "json",
    }
    process, reader = _start_main_job(env)
    try:
        output = reader.wait_for("Press Ctrl-C", timeout_s=180)
        assert DRAINED in output
        assert "Nothing leaves this machine" in output
        token = re.search(r"Admin token:\s+(\S+\.\S+)", output)
        assert token is not None
        status = httpx.get(
            f"http://127.0.0.1:{api_port}/admin/klaviyo/status",
            headers={"Authorization": f"Bearer {token.group(1)}"},
        )
        assert status.status_code == 200
        assert status.json()["data"]["connected"] is True
        children = [psutil.Process(c.pid) for c in psutil.Process(process.pid).children()]
        assert len(children) >= 3  # sandbox, API, worker
        postgres_pid = _postgres_pid(data_dir)

        rest = _stop(process, reader, signal.SIGINT, children)
        assert process.returncode == 0, rest[-3000:]
        assert not _running(postgres_pid)
        assert not (data_dir / "pg" / "data" / "postmaster.pid").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_without_a_klaviyo_account_it_serves_and_stops_on_hangup(data_dir: Path) -> None:
    """Pointed at a real Klaviyo with no account connected, nothing can drain: the main job
    loads no generated data, says what to do, serves, and a closed terminal stops it all."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DATA_DIR": str(data_dir),
        "PORT": str(free_port()),
        # Nothing listens there; connect would fail, and nothing may be pushed anyway.
        "KLAVIYO_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "LOG_FORMAT": "json",
    }
    process, reader = _start_main_job(env)
    try:
        output = reader.wait_for("Press Ctrl-C", timeout_s=120)
        assert "Not syncing yet: no Klaviyo account is connected" in output
        assert "Loaded the" not in output
        assert DRAINED not in output
        assert "/admin/klaviyo/connect" in output
        children = [psutil.Process(c.pid) for c in psutil.Process(process.pid).children()]
        assert len(children) >= 2  # API, worker
        postgres_pid = _postgres_pid(data_dir)

        _stop(process, reader, signal.SIGHUP, children)
        assert not _running(postgres_pid)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_second_run_pushes_everything_again_to_the_new_empty_sandbox(data_dir: Path) -> None:
    """The sandbox forgets on every start while the store remembers what it pushed: a second
    run must push it all again, not update what the new sandbox has never seen."""
    api_port, sandbox_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KLAVIYO_BASE_URL"}},
        "DATA_DIR": str(data_dir),
        "PORT": str(api_port),
        "SANDBOX_PORT": str(sandbox_port),
        "LOG_FORMAT": "json",
    }
    for _ in (1, 2):
        process = subprocess.run(
            [sys.executable, "-m", "app", "run", "--no-wait"],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
        assert DRAINED in process.stdout
    assert "what earlier runs pushed is pushed again" in process.stdout
    # The table of the second run: nothing failed on any surface.
    rows = re.findall(r"│ (\w+)\s+│\s+(\d+) │\s+(\d+) │\s+(\d+) │", process.stdout)
    assert rows and all(failed == "0" for _, _, _, failed in rows), process.stdout[-3000:]
    assert dict((name, int(done)) for name, _, done, _ in rows)["profiles"] > 0


def test_a_taken_port_the_operator_chose_stops_the_run_before_anything_starts(
    data_dir: Path,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "DATA_DIR": str(data_dir),
            "PORT": str(port),
        }
        result = subprocess.run(
            [sys.executable, "-m", "app", "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"PORT={port}: 127.0.0.1:{port} is in use by another program" in result.stderr
    assert not (data_dir / "pg").exists()
