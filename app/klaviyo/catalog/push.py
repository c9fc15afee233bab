"""The catalog surfaces' view of a drain tick: the shared DrainContext (rate budget, retry
policy, lease) plus the bulk-job options, and one request adapter over DrainContext.send."""

from __future__ import annotations

from typing import Any

from app.klaviyo.drain.context import AccountRefused, DrainContext, Endpoint
from app.klaviyo.drain.retry import PushFailure


class CatalogDrainContext:
    """One tick of the catalog, category, coupon or bulk-job poller drain."""

    def __init__(
        self,
        drain: DrainContext,
        *,
        job_deadline_s: float = 300.0,
        job_poll_s: float = 0.5,
        store_url: str | None = None,
    ) -> None:
        self.drain = drain
        # A bulk job not complete this long after submission is given up and its rows retried.
        self.job_deadline_s = job_deadline_s
        self.job_poll_s = job_poll_s
        # Product pages for products without their own url: `<store_url>/products/<handle>`.
        self.store_url = store_url

    @property
    def pool(self):
        return self.drain.pool

    @property
    def policy(self):
        return self.drain.policy

    @property
    def worker(self) -> str:
        return self.drain.worker

    @property
    def batch_size(self) -> int:
        return self.drain.batch_size

    @property
    def lease_s(self) -> float:
        return self.drain.lease_s


async def send(
    ctx: CatalogDrainContext,
    method: str,
    path: str,
    *,
    tier: str,
    operation: str,
    json: object = None,
) -> Any:
    """The 2xx answer's JSON document, or the PushFailure. 401/403 stop the tick (no row is at
    fault); DrainStopped from the budget propagates for the caller to release its rows."""
    answer = await ctx.drain.send_json(Endpoint(method, path, tier, operation), body=json)
    if isinstance(answer, PushFailure) and answer.status in (401, 403):
        raise AccountRefused(answer.detail or "")
    return answer
