"""Coupons end to end: code changes, deletion, expiry, and the S rate tier."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from app.klaviyo.catalog.coupon_drain import coupon_description, drain_coupons
from app.klaviyo.catalog.ids import coupon_code_id, coupon_external_id
from app.klaviyo.rate_budget import KlaviyoRateBudget
from app.store.discounts import create_discount
from tests.klaviyo.catalog.conftest import run_until_settled


def held(sandbox) -> tuple[dict[str, dict], set[str]]:
    dump = sandbox.coupons()
    return {c["id"]: c for c in dump["coupons"]}, {c["id"] for c in dump["coupon_codes"]}


async def coupon_state(conn, discount_id: str) -> dict:
    cur = await conn.execute(
        "SELECT status, klaviyo_coupon_id, klaviyo_coupon_code_id, last_pushed_code, last_error "
        "FROM klaviyo.coupon_state WHERE discount_id = %s",
        (discount_id,),
    )
    keys = ("status", "coupon_id", "code_id", "code", "last_error")
    return dict(zip(keys, await cur.fetchone(), strict=True))


def test_coupon_external_id_is_stable_and_allowed() -> None:
    a = coupon_external_id("5f0c-11ee/ä")
    assert a == coupon_external_id("5f0c-11ee/ä")
    assert a.replace("_", "").isalnum() and a.isascii() and len(a) <= 64
    assert coupon_external_id("a-b") != coupon_external_id("ab")
    assert len(coupon_external_id("x" * 500)) <= 64


async def test_coupon_code_change_and_deletion(conn, sandbox, settle_all) -> None:
    discount = await create_discount(conn, "SAVE10", percent_off=10)
    await settle_all()
    coupon_id = coupon_external_id(discount)
    coupons, codes = held(sandbox)
    assert coupons[coupon_id]["description"] == "10% off"
    assert codes == {coupon_code_id(coupon_id, "SAVE10")}
    row = await coupon_state(conn, discount)
    assert row == {
        "status": "synced",
        "coupon_id": coupon_id,
        "code_id": coupon_code_id(coupon_id, "SAVE10"),
        "code": "SAVE10",
        "last_error": None,
    }

    await conn.execute("UPDATE core.discounts SET percent_off = 12 WHERE id = %s", (discount,))
    await settle_all()
    coupons, _ = held(sandbox)
    assert coupons[coupon_id]["description"] == "12% off"  # updated in place, same coupon

    await conn.execute("UPDATE core.discounts SET code = 'SAVE15' WHERE id = %s", (discount,))
    await settle_all()
    _, codes = held(sandbox)
    assert codes == {coupon_code_id(coupon_id, "SAVE15")}
    assert (await coupon_state(conn, discount))["code"] == "SAVE15"

    await conn.execute("UPDATE core.discounts SET deleted_at = now() WHERE id = %s", (discount,))
    await settle_all()
    assert held(sandbox) == ({}, set())
    row = await coupon_state(conn, discount)
    assert (row["status"], row["coupon_id"], row["code"]) == ("deleted", None, None)


async def test_expired_discount_is_removed_without_a_store_write(conn, sandbox, settle_all) -> None:
    ends = datetime.now(UTC) + timedelta(seconds=1)
    discount = await create_discount(
        conn, "FLASH", amount_off_minor=500, currency="USD", ends_at=ends
    )
    await settle_all()
    coupons, codes = held(sandbox)
    assert coupons[coupon_external_id(discount)]["description"] == "$5.00 off"
    await asyncio.sleep(1.1)
    await settle_all()
    assert held(sandbox) == ({}, set())
    assert (await coupon_state(conn, discount))["status"] == "deleted"


async def test_resync_of_an_unknown_discount_is_skipped(conn, sandbox, settle_all) -> None:
    await conn.execute("SELECT klaviyo.resync_discount('no-such-discount')")
    await settle_all()
    row = await coupon_state(conn, "no-such-discount")
    assert row["status"] == "skipped" and "not in the store" in row["last_error"]


def test_descriptions() -> None:
    from decimal import Decimal

    assert (
        coupon_description({"kind": "percentage", "percent_off": Decimal("12.50")}) == "12.5% off"
    )
    fixed = {"kind": "fixed", "amount_off_minor": 1000, "currency": "JPY"}
    assert coupon_description(fixed) == "¥1,000 off"
    # ISO 4217 gives HUF a minor unit of a hundredth, though it is shown without decimals.
    forint = {"kind": "fixed", "amount_off_minor": 1999, "currency": "HUF"}
    assert coupon_description(forint) == "HUF19.99 off"
    dinar = {"kind": "fixed", "amount_off_minor": 2500, "currency": "KWD"}
    assert coupon_description(dinar) == "KWD2.500 off"


async def test_coupon_rate_tier_is_respected(conn, sandbox, catalog_ctx, db_pool) -> None:
    sandbox.reset(rate_limits="klaviyo")
    catalog_ctx.drain.budget = KlaviyoRateBudget(db_pool, enabled=True)
    for n in range(12):
        await create_discount(conn, f"TIER{n}", percent_off=5)
    started = time.monotonic()
    await run_until_settled(catalog_ctx, drain_coupons, limit_s=30)
    elapsed = time.monotonic() - started
    cur = await conn.execute("SELECT status, count(*) FROM klaviyo.coupon_state GROUP BY 1")
    assert await cur.fetchall() == [("synced", 12)]
    stats = sandbox.stats()
    assert stats["requests_per_status"].get("429", 0) == 0, stats
    # 12 creates at the S pace of 2 a second span at least six one-second windows, so more
    # than four seconds pass between the first and the last.
    assert elapsed > 4.0
