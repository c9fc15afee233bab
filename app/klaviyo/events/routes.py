"""Admin endpoints of the event surface: failed outbox rows and their resync.

The module plugin guards them: GET needs klaviyo:view, POST klaviyo:manage.
"""

from __future__ import annotations

import re

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from psycopg_pool import AsyncConnectionPool

from app.http.envelope import Envelope, ok, ok_list
from app.http.errors import NotFound
from app.http.pagination import Page, provide_paging
from app.klaviyo.events.outbox_rows import (
    KlaviyoEventOutboxItem,
    list_failed_events,
    requeue_event,
)
from app.klaviyo.resync import Enqueued

EVENT_ID_FORMAT = re.compile(r"^[0-9a-f-]{8,}$")


class KlaviyoEventsController(Controller):
    path = "/admin/klaviyo/events"
    tags = ["Klaviyo events"]
    dependencies = {"paging": Provide(provide_paging)}

    @get("/failed", summary="Failed event outbox rows, newest first")
    async def list_failed(
        self, pool: NamedDependency[AsyncConnectionPool], paging: NamedDependency[Page]
    ) -> Envelope[list[KlaviyoEventOutboxItem]]:
        async with pool.connection() as conn:
            items, total = await list_failed_events(conn, paging)
        return ok_list(items, total, paging)

    @post(
        "/resync/{event_id:str}",
        status_code=200,
        summary="Requeue one event (sent again with the same unique_id)",
    )
    async def resync_event(
        self, pool: NamedDependency[AsyncConnectionPool], event_id: FromPath[str]
    ) -> Envelope[Enqueued]:
        if not EVENT_ID_FORMAT.match(event_id):
            raise NotFound(f"eventId {event_id!r} is not an outbox row id")
        async with pool.connection() as conn:
            enqueued = await requeue_event(conn, event_id)
        return ok(Enqueued(enqueued=enqueued))
