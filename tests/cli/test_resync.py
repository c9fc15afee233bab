"""`resync SURFACE ID`: the resync endpoints' semantics, with exit code 2 for a malformed id."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.cli.conftest import count_rows, fail_rows


async def _event_row(conn, event_id: str) -> tuple:
    cur = await conn.execute(
        "SELECT status, attempts, processed_at, last_error, next_attempt_at <= now() "
        "FROM klaviyo.event_outbox WHERE id = %s",
        (event_id,),
    )
    return await cur.fetchone()


async def test_a_failed_event_goes_back_to_pending(operator, store, conn) -> None:
    cur = await conn.execute("SELECT id::text FROM klaviyo.event_outbox ORDER BY id LIMIT 1")
    (event_id,) = await cur.fetchone()
    await fail_rows(conn, "event_outbox", f"id = '{event_id}'", "Klaviyo 400 invalid: bad")
    await conn.execute(
        "UPDATE klaviyo.event_outbox SET processed_at = now(), "
        "next_attempt_at = now() + interval '1 day' WHERE id = %s",
        (event_id,),
    )

    result = operator("resync", "events", event_id)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("enqueued: true")
    assert await _event_row(conn, event_id) == ("pending", 0, None, None, True)


async def test_a_well_formed_unknown_event_id_answers_false(operator, store, conn) -> None:
    statuses = "SELECT count(*) FROM klaviyo.event_outbox WHERE status = 'pending'"
    before = await count_rows(conn, statuses)
    result = operator("resync", "events", str(uuid.uuid4()), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"enqueued": False}
    assert await count_rows(conn, statuses) == before


@pytest.mark.parametrize(
    ("surface", "row_id", "message"),
    [
        ("events", "not-an-id!", "eventId 'not-an-id!' is not an outbox row id"),
        ("events", "ABCDEF12-0000", "eventId 'ABCDEF12-0000' is not an outbox row id"),
        ("catalog", "", "variantId must be 1-255 printable characters, got ''"),
        ("coupons", "bad\tid", "discountId must be 1-255 printable characters"),
        ("profiles", "x" * 300, "customerId must be 1-255 printable characters"),
    ],
)
def test_a_malformed_id_exits_2_naming_it(operator, surface, row_id, message) -> None:
    result = operator("resync", surface, row_id)
    assert result.returncode == 2
    assert message in result.stderr and result.stdout == ""


async def test_profile_resync_requeues_a_known_customer_only(operator, store, conn) -> None:
    await fail_rows(conn, "profile_state", "true", "Klaviyo 400 invalid: phone_number")

    known = operator("resync", "profiles", store.customer_id)
    assert known.returncode == 0 and known.stdout.startswith("enqueued: true")
    cur = await conn.execute(
        "SELECT status, attempts, last_error FROM klaviyo.profile_state WHERE customer_id = %s",
        (store.customer_id,),
    )
    assert await cur.fetchone() == ("pending", 0, None)

    unknown = operator("resync", "profiles", "no-such-customer")
    assert unknown.returncode == 0
    assert unknown.stdout.startswith("enqueued: false (the store has no such customer")
    assert await count_rows(conn, "SELECT count(*) FROM klaviyo.profile_state") == 1


@pytest.mark.parametrize(
    ("surface", "table", "column"),
    [
        ("catalog", "catalog_state", "variant_id"),
        ("categories", "category_state", "category_id"),
        ("coupons", "coupon_state", "discount_id"),
    ],
)
async def test_catalog_surfaces_requeue_a_failed_row(
    operator, store, conn, surface, table, column
) -> None:
    cur = await conn.execute(f"SELECT {column} FROM klaviyo.{table} ORDER BY id LIMIT 1")  # noqa: S608
    (row_id,) = await cur.fetchone()
    await fail_rows(conn, table, f"{column} = '{row_id}'", "Klaviyo 400 invalid")

    result = operator("resync", surface, row_id, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"enqueued": True}
    cur = await conn.execute(
        f"SELECT status, attempts, last_error FROM klaviyo.{table} WHERE {column} = %s",  # noqa: S608
        (row_id,),
    )
    assert await cur.fetchone() == ("pending", 0, None)


async def test_resync_with_the_module_off_is_refused(operator, store, conn) -> None:
    cur = await conn.execute("SELECT id::text FROM klaviyo.event_outbox LIMIT 1")
    (event_id,) = await cur.fetchone()
    await fail_rows(conn, "event_outbox", "true", "Klaviyo 400")
    result = operator("resync", "events", event_id, KLAVIYO_MODULE_ENABLED="false")
    assert result.returncode == 1 and "KLAVIYO_MODULE_ENABLED=false" in result.stderr
    assert (await _event_row(conn, event_id))[0] == "failed"
