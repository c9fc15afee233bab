"""`python -m app serve`: migrates, serves /health and the module, logs one line per request."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from tests.cli_helpers import REPO_ROOT, cli_env, run_cli
from tests.fixtures.sandbox import free_port


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_answers_health_and_the_status_envelope(clean_db, tmp_path, test_secrets, workers):
    auth_secret, encryption_key = test_secrets
    port = free_port()
    env = cli_env(
        clean_db,
        tmp_path,
        BETTER_AUTH_SECRET=auth_secret,
        APP_ENCRYPTION_KEY=encryption_key,
        PORT=str(port),
    )
    token = run_cli("admin", "token", "--email", "serve@example.test", env=env).stdout.strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--workers", workers],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=1.0)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        status = httpx.get(
            f"{base}/admin/klaviyo/status", headers={"Authorization": f"Bearer {token}"}
        )
        children = psutil.Process(process.pid).children(recursive=True)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)

    assert psutil.wait_procs(children, timeout=10)[1] == []  # no API process left behind

    assert health.status_code == 200
    assert status.status_code == 200
    assert status.json()["data"]["connected"] is False
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    requests = [e for e in logged if e.get("event") == "http_request"]
    assert {(e["path"], e["status"]) for e in requests} >= {
        ("/health", 200),
        ("/admin/klaviyo/status", 200),
    }
    assert token not in stderr
