"""Running `python -m app …` as an operator would, against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def cli_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in {"BETTER_AUTH_SECRET", "APP_ENCRYPTION_KEY"}
    }
    env.update({"DATABASE_URL": database_url, "DATA_DIR": str(data_dir), "LOG_FORMAT": "json"})
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
