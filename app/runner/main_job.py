"""The main job: database, sandbox, API and worker as one supervised foreground command."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TextIO

from app.config import Config
from app.db.embedded import EmbeddedServer
from app.db.migrate import migrate
from app.db.target import resolve_database_url
from app.runner import setup_steps
from app.runner.fresh_sandbox import forget_what_the_last_sandbox_held
from app.runner.ports import claim_ports, local_url
from app.runner.processes import ChildGroup, ChildProcess, note, wait_for_http
from app.runner.progress import watch_backlog


def _say(text: str, stream: TextIO | None = None) -> None:
    """Print to the operator's terminal, which may be gone by shutdown (a closed pipe)."""
    try:
        print(text, file=stream or sys.stdout, flush=True)
    except OSError:
        pass


class Interrupted(Exception):
    """Ctrl-C or SIGTERM reached the main job."""


class MainJob:
    def __init__(self, config: Config, *, dataset: str, keep_serving: bool) -> None:
        self.config = config
        self.dataset = dataset
        self.keep_serving = keep_serving
        self.children = ChildGroup()
        self.logs_dir = config.data_dir / "logs"
        self.started_embedded = False

    def run(self) -> int:
        # SIGHUP too: a closed terminal must stop the children, which live in sessions of their own.
        stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {s: signal.signal(s, self._interrupt) for s in stops}
        try:
            self._run()
            return 0
        except Interrupted:
            _say("\nStopping…")
            return 0
        except Exception as exc:  # the operator needs the reason, then a clean stop
            note("main_job_failed", level="error", error=str(exc))
            _say(f"\nThe main job failed: {exc}", sys.stderr)
            return 1
        finally:
            # No second signal may cut the shutdown short and leave a child behind.
            for sig in stops:
                signal.signal(sig, signal.SIG_IGN)
            self.children.stop_all()
            if self.started_embedded:
                try:
                    EmbeddedServer(self.config.data_dir).stop()
                except OSError:  # its closing log line, to a terminal that is gone
                    pass
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _say("Stopped: no process of the main job is left running.")

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        raise Interrupted

    def _run(self) -> None:
        config = self.config = claim_ports(self.config, os.environ)
        if not config.database_url:
            self.started_embedded = not EmbeddedServer(config.data_dir).is_running()
        database_url = resolve_database_url(config)
        applied = migrate(database_url)
        print(f"Database ready ({len(applied)} migrations applied).", flush=True)

        config = setup_steps.with_runtime_secrets(config)
        env = self._child_env(config, database_url)
        if config.sandbox_mode:
            self._start_sandbox(env)
        self._start_api(config, env)
        self._start_worker(env)

        api_url = local_url(config.host, config.port)
        token = setup_steps.admin_token(config, database_url)
        if config.sandbox_mode:
            # Generated data goes only to the sandbox, never to a real Klaviyo account.
            loaded = setup_steps.load_store_if_empty(database_url, self.dataset)
            if loaded:
                print(f"Loaded the {self.dataset} store: {loaded}.", flush=True)
            elif not config.database_url and forget_what_the_last_sandbox_held(database_url):
                print(
                    "The sandbox starts empty: what earlier runs pushed is pushed again.",
                    flush=True,
                )
            setup_steps.connect_sandbox_account(api_url, token)
            setup_steps.wire_sandbox_webhooks(config, database_url, api_url)

        waiting_for = setup_steps.why_nothing_drains(api_url, token)
        if waiting_for is None:
            bootstrapped = setup_steps.bootstrap_surfaces(api_url, token)
            print(f"Bootstrap enqueued: {bootstrapped}.", flush=True)
            watch_backlog(database_url, self._check_children)
            print("\nbacklog drained", flush=True)
        else:
            print(f"\nNot syncing yet: {waiting_for}", flush=True)
        setup_steps.print_usage(config, api_url, token, keep_serving=self.keep_serving)
        if not self.keep_serving:
            return
        while True:
            self._check_children()
            time.sleep(1.0)

    def _check_children(self) -> None:
        dead = self.children.first_dead()
        if dead is not None:
            raise RuntimeError(f"{dead.name} stopped unexpectedly; see {dead.log_path}")

    def _child_env(self, config: Config, database_url: str) -> dict[str, str]:
        env = dict(os.environ)
        env["DATABASE_URL"] = database_url
        env["BETTER_AUTH_SECRET"] = config.better_auth_secret
        env["APP_ENCRYPTION_KEY"] = ",".join(config.app_encryption_keys)
        env["PYTHONUNBUFFERED"] = "1"
        env["PORT"] = str(config.port)
        if config.sandbox_mode:
            env["SANDBOX_PORT"] = str(config.sandbox_port)
            env["KLAVIYO_BASE_URL"] = f"http://127.0.0.1:{config.sandbox_port}"
            env.setdefault("SANDBOX_RATE_LIMITS", "klaviyo")
        return env

    def _start_sandbox(self, env: dict[str, str]) -> None:
        port = self.config.sandbox_port
        print(
            "\n*** SANDBOX MODE: Klaviyo is emulated on this machine at "
            f"http://127.0.0.1:{port}. Nothing leaves this machine. ***\n",
            flush=True,
        )
        child = self.children.start(
            ChildProcess(
                "sandbox",
                [sys.executable, "-m", "app", "sandbox", "--port", str(port)],
                env,
                self.logs_dir / "sandbox.log",
            )
        )
        wait_for_http(f"http://127.0.0.1:{port}/__sandbox/stats", child)

    def _start_api(self, config: Config, env: dict[str, str]) -> None:
        child = self.children.start(
            ChildProcess(
                "api", [sys.executable, "-m", "app", "serve"], env, self.logs_dir / "api.log"
            )
        )
        wait_for_http(f"{local_url(config.host, config.port)}/health", child)

    def _start_worker(self, env: dict[str, str]) -> None:
        procrastinate = Path(sys.executable).with_name("procrastinate")
        self.children.start(
            ChildProcess(
                "worker",
                [str(procrastinate), "--app=app.worker.procrastinate_app", "worker"],
                env,
                self.logs_dir / "worker.log",
            )
        )
