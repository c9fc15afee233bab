"""The running sandbox: accounts, limiter, faults, bulk jobs and webhooks shared by handlers."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from litestar import Request

from app.sandbox.config import SandboxConfig
from app.sandbox.faults import FaultBook
from app.sandbox.jobs import JobRunner
from app.sandbox.ratelimit import RateLimiter
from app.sandbox.store import Account
from app.sandbox.webhooks import WebhookDispatcher

MAX_RECORDED_REQUESTS = 20_000


class SandboxRuntime:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.accounts: dict[str, Account] = {key: Account(key) for key in config.api_keys}
        self.limiter = RateLimiter(config.rate_limits)
        self.faults = FaultBook(config.fault_seed)
        self.jobs = JobRunner(config.job_delay_s)
        self.webhooks = WebhookDispatcher(config.webhook_retry_delays_s, config.webhook_timeout_s)
        # By status, and "reset" for connections a fault cut.
        self.requests_per_status: Counter[int | str] = Counter()
        self.recording = config.record_requests
        self.recorded: list[dict[str, Any]] = []
        # Open connections by client address, so a `reset` fault can abort the right socket.
        self.transports: dict[tuple[str, int], asyncio.Transport] = {}
        self._load_initial_faults()

    def _load_initial_faults(self) -> None:
        for rule in self.config.initial_faults:
            self.faults.add(rule)

    def reset(self, rate_limits: str | None = None) -> None:
        for account in self.accounts.values():
            account.reset()
        self.limiter.reset(rate_limits or self.config.rate_limits)
        self.faults.reset()
        self._load_initial_faults()
        self.jobs.reset()
        self.webhooks.reset()
        self.requests_per_status.clear()
        self.recorded = []

    def account_by_id(self, account_id: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.id == account_id), None)

    def default_account(self) -> Account:
        return next(iter(self.accounts.values()))

    def record(self, method: str, template: str, operation: str, body: bytes) -> None:
        if len(self.recorded) < MAX_RECORDED_REQUESTS:
            self.recorded.append(
                {"method": method, "path": template, "operation": operation, "body": body.decode()}
            )

    def stats(self) -> dict[str, Any]:
        per_account = {account.id: account.counts() for account in self.accounts.values()}
        totals: dict[str, Any] = {"events_per_metric": Counter()}
        for counts in per_account.values():
            for key, value in counts.items():
                if key == "events_per_metric":
                    totals[key].update(value)
                else:
                    totals[key] = totals.get(key, 0) + value
        totals["events_per_metric"] = dict(totals["events_per_metric"])
        return {
            **totals,
            "requests_per_status": {
                str(k): v for k, v in sorted(self.requests_per_status.items(), key=str)
            },
            "jobs_pending": self.jobs.pending(),
            "webhook_deliveries": self.webhooks.counts(),
            "rate_limits": self.limiter.mode,
            "accounts": per_account,
        }


def runtime_of(request: Request) -> SandboxRuntime:
    return request.app.state.runtime


def account_of(request: Request) -> Account:
    return request.scope["sandbox_account"]  # type: ignore[typeddict-item]


async def read_body(request: Request) -> bytes:
    """The raw body, kept on the scope so the gateway can record what was accepted."""
    raw = await request.body()
    request.scope["sandbox_body"] = raw  # type: ignore[typeddict-unknown-key]
    return raw
