"""Admin endpoints of the profile surface: list state rows, failed ones, resync, bootstrap.

The module plugin guards them: GET needs klaviyo:view, POST klaviyo:manage.
"""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from psycopg_pool import AsyncConnectionPool

from app.http.envelope import Envelope, ok, ok_list
from app.http.pagination import Page, provide_paging
from app.klaviyo.profiles.state_rows import (
    KlaviyoProfileStateItem,
    bootstrap_all,
    list_profile_rows,
    resync_customer,
)
from app.klaviyo.resync import Enqueued, EnqueuedCount


class KlaviyoProfilesController(Controller):
    path = "/admin/klaviyo/profiles"
    tags = ["Klaviyo profiles"]
    dependencies = {"paging": Provide(provide_paging)}

    @get("/", summary="All profile state rows, newest first")
    async def list_profiles(
        self, pool: NamedDependency[AsyncConnectionPool], paging: NamedDependency[Page]
    ) -> Envelope[list[KlaviyoProfileStateItem]]:
        async with pool.connection() as conn:
            items, total = await list_profile_rows(conn, paging, failed_only=False)
        return ok_list(items, total, paging)

    @get("/failed", summary="Failed profile state rows, newest first")
    async def list_failed_profiles(
        self, pool: NamedDependency[AsyncConnectionPool], paging: NamedDependency[Page]
    ) -> Envelope[list[KlaviyoProfileStateItem]]:
        async with pool.connection() as conn:
            items, total = await list_profile_rows(conn, paging, failed_only=True)
        return ok_list(items, total, paging)

    @post(
        "/resync/{customer_id:str}",
        status_code=200,
        summary="Re-push one customer",
    )
    async def resync_profile(
        self, pool: NamedDependency[AsyncConnectionPool], customer_id: FromPath[str]
    ) -> Envelope[Enqueued]:
        async with pool.connection() as conn:
            enqueued = await resync_customer(conn, customer_id)
        return ok(Enqueued(enqueued=enqueued))

    @post("/bootstrap", status_code=200, summary="Re-push every customer")
    async def bootstrap_profiles(
        self, pool: NamedDependency[AsyncConnectionPool]
    ) -> Envelope[EnqueuedCount]:
        async with pool.connection() as conn:
            count = await bootstrap_all(conn)
        return ok(EnqueuedCount(enqueued=count))
