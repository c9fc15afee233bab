"""Admin endpoints of the catalog, category and coupon surfaces: failed rows, resync, bootstrap."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath
from psycopg_pool import AsyncConnectionPool

from app.auth.guards import require_manage, require_view
from app.http.envelope import Envelope, ok, ok_list
from app.http.pagination import Page, provide_paging
from app.klaviyo.catalog.state_rows import (
    KlaviyoCatalogStateItem,
    KlaviyoCategoryStateItem,
    KlaviyoCouponStateItem,
    bootstrap,
    checked_id,
    list_failed,
    resync,
)
from app.klaviyo.resync import Enqueued, EnqueuedCount


class KlaviyoCatalogController(Controller):
    path = "/admin/klaviyo/catalog"
    tags = ["Klaviyo catalog"]
    dependencies = {"paging": Provide(provide_paging)}

    @get("/failed", guards=[require_view], summary="Failed variant syncs, newest first")
    async def list_failed_variants(
        self, pool: NamedDependency[AsyncConnectionPool], paging: NamedDependency[Page]
    ) -> Envelope[list[KlaviyoCatalogStateItem]]:
        async with pool.connection() as conn:
            items, total = await list_failed(conn, KlaviyoCatalogStateItem, paging)
        return ok_list(items, total, paging)

    @post(
        "/resync/{variant_id:str}",
        guards=[require_manage],
        status_code=200,
        summary="Re-push one variant",
    )
    async def resync_variant(
        self, pool: NamedDependency[AsyncConnectionPool], variant_id: FromPath[str]
    ) -> Envelope[Enqueued]:
        checked_id("variantId", variant_id)
        async with pool.connection() as conn:
            return ok(Enqueued(enqueued=await resync(conn, "variant", variant_id)))

    @post("/bootstrap", guards=[require_manage], status_code=200, summary="Re-push every variant")
    async def bootstrap_catalog(
        self, pool: NamedDependency[AsyncConnectionPool]
    ) -> Envelope[EnqueuedCount]:
        async with pool.connection() as conn:
            return ok(EnqueuedCount(enqueued=await bootstrap(conn, "catalog")))


class KlaviyoCategoriesController(Controller):
    path = "/admin/klaviyo/categories"
    tags = ["Klaviyo categories"]
    dependencies = {"paging": Provide(provide_paging)}

    @get("/failed", guards=[require_view], summary="Failed category syncs, newest first")
    async def list_failed_categories(
        self, pool: NamedDependency[AsyncConnectionPool], paging: NamedDependency[Page]
    ) -> Envelope[list[KlaviyoCategoryStateItem]]:
        async with pool.connection() as conn:
            items, total = await list_failed(conn, KlaviyoCategoryStateItem, paging)
        return ok_list(items, total, paging)

    @post(
        "/resync/{category_id:str}",
        guards=[require_manage],
        status_code=200,
        summary="Re-push one category",
    )
    async def resync_category(
        self, pool: NamedDependency[AsyncConnectionPool], category_id: FromPath[str]
    ) -> Envelope[Enqueued]:
        checked_id("categoryId", category_id)
        async with pool.connection() as conn:
            return ok(Enqueued(enqueued=await resync(conn, "category", category_id)))

    @post("/bootstrap", guards=[require_manage], status_code=200, summary="Re-push every category")
    async def bootstrap_categories(
        self, pool: NamedDependency[AsyncConnectionPool]
    ) -> Envelope[EnqueuedCount]:
        async with pool.connection() as conn:
            return ok(EnqueuedCount(enqueued=await bootstrap(conn, "categories")))


class KlaviyoCouponsController(Controller):
    path = "/admin/klaviyo/coupons"
    tags = ["Klaviyo coupons"]
    dependencies = {"paging": Provide(provide_paging)}

    @get("/failed", guards=[require_view], summary="Failed coupon syncs, newest first")
    async def list_failed_coupons(
        self, pool: NamedDependency[AsyncConnectionPool], paging: NamedDependency[Page]
    ) -> Envelope[list[KlaviyoCouponStateItem]]:
        async with pool.connection() as conn:
            items, total = await list_failed(conn, KlaviyoCouponStateItem, paging)
        return ok_list(items, total, paging)

    @post(
        "/resync/{discount_id:str}",
        guards=[require_manage],
        status_code=200,
        summary="Re-push one discount",
    )
    async def resync_discount(
        self, pool: NamedDependency[AsyncConnectionPool], discount_id: FromPath[str]
    ) -> Envelope[Enqueued]:
        checked_id("discountId", discount_id)
        async with pool.connection() as conn:
            return ok(Enqueued(enqueued=await resync(conn, "discount", discount_id)))


CATALOG_ROUTE_HANDLERS = [
    KlaviyoCatalogController,
    KlaviyoCategoriesController,
    KlaviyoCouponsController,
]
