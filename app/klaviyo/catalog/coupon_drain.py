"""The coupon drain: each pending discount becomes a Klaviyo coupon plus one coupon code.

Coupons sit in Klaviyo's S tier (3/s, 60/min) and have no bulk endpoint, so the drain goes one
discount at a time through the shared rate budget. `last_pushed_code` is what Klaviyo holds:
a changed store code deletes the old code before creating the new one; a deleted or expired
discount removes the coupon (its codes go with it). Each step's result is recorded as it
lands, so a retry resumes where the failure was rather than repeating what succeeded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from babel.numbers import format_currency
from psycopg.rows import dict_row

from app.klaviyo.catalog import state_sql
from app.klaviyo.catalog.ids import coupon_code_id, coupon_external_id
from app.klaviyo.catalog.push import CatalogDrainContext, send
from app.klaviyo.drain.claims import claim, new_lease_token, settle, settle_retries
from app.klaviyo.drain.context import DrainStopped
from app.klaviyo.drain.retry import PushFailure, describe
from app.klaviyo.payloads.money import UnknownCurrency, minor_to_amount

log = structlog.get_logger(__name__)

SOURCE_SQL = "SELECT * FROM klaviyo.coupon_source(%s)"
SURFACE = "coupons"
# Coupons are few and S-tier bound: a small batch keeps a tick short.
COUPONS_PER_TICK = 20


def coupon_description(discount: dict[str, Any]) -> str:
    """`10% off`, `$5.00 off`: what the coupon gives, for people reading Klaviyo."""
    if discount["kind"] == "percentage":
        percent = discount["percent_off"].normalize()
        return f"{percent:f}% off"
    try:
        amount = minor_to_amount(discount["amount_off_minor"], discount["currency"])
        # Not rounded to the digits the locale shows (none for HUF): 19.99 HUF stays 19.99.
        shown = format_currency(
            amount, discount["currency"], locale="en_US", decimal_quantization=False
        )
        return f"{shown} off"
    except (UnknownCurrency, TypeError):
        return f"{discount['amount_off_minor']} {discount['currency']} (minor units) off"


def discount_gone(discount: dict[str, Any] | None, now: datetime) -> bool:
    if discount is None or discount["deleted_at"] is not None:
        return True
    return discount["ends_at"] is not None and discount["ends_at"] <= now


class CouponPushFailed(Exception):
    def __init__(self, failure: PushFailure, step: str) -> None:
        super().__init__(step)
        self.failure = failure
        self.step = step


async def _call(
    ctx: CatalogDrainContext,
    method: str,
    path: str,
    *,
    tier: str,
    operation: str,
    json: Any = None,
    tolerate: tuple[int, ...] = (),
) -> None:
    """Raises CouponPushFailed unless Klaviyo took it or answered a status in `tolerate` (a
    409 on create: already there; a 404 on delete: already gone)."""
    result = await send(ctx, method, path, tier=tier, operation=operation, json=json)
    if isinstance(result, PushFailure) and result.status not in tolerate:
        raise CouponPushFailed(result, operation)


async def _record(ctx: CatalogDrainContext, row: dict[str, Any], token: str) -> None:
    async with ctx.pool.connection() as conn:
        await settle(
            conn,
            state_sql.RECORD_COUPON_PROGRESS,
            id=row["id"],
            token=token,
            coupon_id=row["klaviyo_coupon_id"],
            code_id=row["klaviyo_coupon_code_id"],
            code=row["last_pushed_code"],
            description=row["pushed_description"],
        )


async def _remove(ctx: CatalogDrainContext, row: dict[str, Any]) -> None:
    await _call(
        ctx,
        "DELETE",
        f"/api/coupons/{row['klaviyo_coupon_id']}",
        tier="S",
        operation="delete_coupon",
        tolerate=(404,),
    )
    row.update(klaviyo_coupon_id=None, klaviyo_coupon_code_id=None, last_pushed_code=None)


async def _push(
    ctx: CatalogDrainContext, row: dict[str, Any], discount: dict[str, Any], token: str
) -> None:
    coupon_id = coupon_external_id(discount["discount_id"])
    code = discount["code"].strip()
    description = coupon_description(discount)
    if row["klaviyo_coupon_id"] is None:
        body = {
            "data": {
                "type": "coupon",
                "attributes": {"external_id": coupon_id, "description": description},
            }
        }
        # 409: Klaviyo already holds this coupon (an earlier push whose answer was lost).
        await _call(
            ctx,
            "POST",
            "/api/coupons",
            tier="S",
            operation="create_coupon",
            json=body,
            tolerate=(409,),
        )
        row.update(klaviyo_coupon_id=coupon_id, pushed_description=description)
        await _record(ctx, row, token)
    elif row["pushed_description"] != description:
        # The discount's value changed: the coupon Klaviyo shows must say so.
        body = {
            "data": {"type": "coupon", "id": coupon_id, "attributes": {"description": description}}
        }
        await _call(
            ctx,
            "PATCH",
            f"/api/coupons/{coupon_id}",
            tier="S",
            operation="update_coupon",
            json=body,
        )
        row.update(pushed_description=description)
        await _record(ctx, row, token)

    old_code = row["last_pushed_code"]
    if old_code is not None and old_code != code:
        await _call(
            ctx,
            "DELETE",
            f"/api/coupon-codes/{coupon_code_id(coupon_id, old_code)}",
            tier="XL",
            operation="delete_coupon_code",
            tolerate=(404,),
        )
        row.update(klaviyo_coupon_code_id=None, last_pushed_code=None)
        await _record(ctx, row, token)

    if row["last_pushed_code"] != code:
        attributes: dict[str, Any] = {"unique_code": code}
        if discount["ends_at"] is not None:
            attributes["expires_at"] = discount["ends_at"].astimezone(UTC).isoformat()
        body = {
            "data": {
                "type": "coupon-code",
                "attributes": attributes,
                "relationships": {"coupon": {"data": {"type": "coupon", "id": coupon_id}}},
            }
        }
        await _call(
            ctx,
            "POST",
            "/api/coupon-codes",
            tier="XL",
            operation="create_coupon_code",
            json=body,
            tolerate=(409,),
        )
        row.update(klaviyo_coupon_code_id=coupon_code_id(coupon_id, code), last_pushed_code=code)


async def _confirm(
    ctx: CatalogDrainContext, row: dict[str, Any], token: str, status: str, note: str | None
) -> None:
    async with ctx.pool.connection() as conn:
        await settle(
            conn,
            state_sql.CONFIRM_COUPON,
            id=row["id"],
            token=token,
            seq=row["change_seq"],
            status=status,
            coupon_id=row["klaviyo_coupon_id"],
            code_id=row["klaviyo_coupon_code_id"],
            code=row["last_pushed_code"],
            description=row["pushed_description"],
            note=note,
        )


async def _skip(
    ctx: CatalogDrainContext, row: dict[str, Any], token: str, status: str, reason: str | None
) -> None:
    async with ctx.pool.connection() as conn:
        await settle(
            conn,
            state_sql.SKIP_COUPONS,
            token=token,
            ids=[row["id"]],
            seqs=[row["change_seq"]],
            statuses=[status],
            reasons=[reason],
        )


async def push_coupon(
    ctx: CatalogDrainContext, row: dict[str, Any], discount: dict[str, Any] | None, token: str
) -> str:
    """Push one claimed row; answers the outcome (synced, deleted, skipped, retry)."""
    try:
        if discount_gone(discount, datetime.now(UTC)):
            if row["klaviyo_coupon_id"] is not None:
                await _remove(ctx, row)
                await _confirm(ctx, row, token, "deleted", None)
            elif discount is None:
                reason = f"discount {row['discount_id']} is not in the store"
                await _skip(ctx, row, token, "skipped", reason)
                return "skipped"
            else:
                await _skip(ctx, row, token, "deleted", None)
            return "deleted"
        assert discount is not None  # a missing discount is gone
        if not (discount["code"] or "").strip():
            await _skip(ctx, row, token, "skipped", f"discount {row['discount_id']} has no code")
            return "skipped"
        await _push(ctx, row, discount, token)
        await _confirm(ctx, row, token, "synced", None)
        return "synced"
    except CouponPushFailed as exc:
        await _record(ctx, row, token)
        decision = ctx.policy.decide(
            row["id"],
            row["attempts"],
            exc.failure,
            describe(SURFACE, row["discount_id"], exc.failure, exc.step),
        )
        async with ctx.pool.connection() as conn:
            await settle_retries(conn, state_sql.RETRY_COUPONS, token, [decision])
        return "retry"


async def drain_coupons(ctx: CatalogDrainContext) -> int:
    """One tick: queue the removal of expired coupons, then push a batch one by one."""
    token = new_lease_token(ctx.worker)
    async with ctx.pool.connection() as conn:
        await conn.execute("SELECT klaviyo.touch_expired_discounts()")
        rows = await claim(
            conn,
            state_sql.CLAIM_PENDING_COUPONS,
            token=token,
            limit=min(ctx.batch_size, COUPONS_PER_TICK),
            lease_s=ctx.lease_s,
        )
        if not rows:
            return 0
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(SOURCE_SQL, ([r["discount_id"] for r in rows],))
            sources = {s["discount_id"]: s for s in await cur.fetchall()}
    outcomes: dict[str, int] = {}
    try:
        for row in rows:
            outcome = await push_coupon(ctx, row, sources.get(row["discount_id"]), token)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    except DrainStopped as stop:
        async with ctx.pool.connection() as conn:
            await settle(conn, state_sql.RELEASE_COUPONS, ids=[r["id"] for r in rows], token=token)
        log.info("coupon_tick_stopped", surface=SURFACE, reason=type(stop).__name__)
    log.info("coupon_tick", surface=SURFACE, batch_size=len(rows), **outcomes)
    return len(rows)
