"""Asks the worker to apply the inbox soon after a delivery is stored, without flooding the queue.

One apply job handles every pending row, so the API keeps at most one request in flight and
folds the deliveries arriving meanwhile into one more request once it returns. A lost request
costs only latency: the periodic sweep applies whatever is still pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class ApplyTrigger:
    def __init__(self, defer: Callable[[], Awaitable[object]]) -> None:
        self._defer = defer
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def kick(self) -> None:
        """Never waits and never fails the caller: the delivery is already durable."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                await self._defer()
            except Exception as exc:  # the sweep picks the rows up; say why the kick failed
                log.warning("webhook_apply_defer_failed", error=type(exc).__name__)
            if not self._again:
                return

    async def drain(self) -> None:
        """Waits for the request in flight (shutdown, tests)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
