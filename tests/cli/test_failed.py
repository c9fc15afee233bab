"""`failed SURFACE`: failed rows with their errors, newest first, as the failed endpoints list."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import fail_rows

# Per surface: the state table, the column naming a row, and how the output names it.
SURFACE_ROWS = {
    "profiles": ("profile_state", "customer_id", "customerId"),
    "catalog": ("catalog_state", "variant_id", "variantId"),
    "categories": ("category_state", "category_id", "categoryId"),
    "coupons": ("coupon_state", "discount_id", "discountId"),
}


@pytest.mark.parametrize("surface", list(SURFACE_ROWS))
async def test_lists_a_failed_state_row_with_its_error(operator, store, conn, surface) -> None:
    table, column, label = SURFACE_ROWS[surface]
    cur = await conn.execute(f"SELECT {column} FROM klaviyo.{table} ORDER BY id LIMIT 1")  # noqa: S608
    (row_id,) = await cur.fetchone()
    error = f"{surface} row {row_id}: Klaviyo 400 invalid: /data/attributes/title is required"
    await fail_rows(conn, table, f"{column} = '{row_id}'", error)

    result = operator("failed", surface)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Failed {surface}: 1 (showing 1-1, newest first)")
    assert f"{label} {row_id}  attempts 8" in result.stdout
    assert f"  error: {error}" in result.stdout

    as_json = json.loads(operator("failed", surface, "--json").stdout)
    assert as_json["metadata"] == {"total": 1, "limit": 50, "offset": 0, "hasMore": False}
    [item] = as_json["data"]
    assert item[label] == row_id and item["lastError"] == error and item["status"] == "failed"


async def test_events_newest_first_and_paged(operator, store, conn) -> None:
    # Each event of the order failed at its own time, the first key longest ago.
    await fail_rows(conn, "event_outbox", "true", "placeholder")
    await conn.execute(
        """
        UPDATE klaviyo.event_outbox e
        SET enqueued_at = now() - make_interval(mins => (100 - o.n)::int),
            last_error = 'Klaviyo 400 invalid: ' || e.idempotency_key
        FROM (SELECT id, row_number() OVER (ORDER BY idempotency_key) AS n
              FROM klaviyo.event_outbox) o
        WHERE e.id = o.id
        """
    )
    cur = await conn.execute(
        "SELECT id::text, idempotency_key FROM klaviyo.event_outbox ORDER BY idempotency_key DESC"
    )
    newest_first = await cur.fetchall()
    assert len(newest_first) >= 2, "the sample order recorded fewer than two events"

    result = operator("failed", "events", "--json", "--limit", "1", "--page", "2")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["metadata"] == {
        "total": len(newest_first),
        "limit": 1,
        "offset": 1,
        "hasMore": len(newest_first) > 2,
    }
    [item] = body["data"]
    assert item["id"] == newest_first[1][0]
    assert item["lastError"] == f"Klaviyo 400 invalid: {newest_first[1][1]}"

    text = operator("failed", "events").stdout
    positions = [text.index(f"id {event_id}  attempts 8") for event_id, _ in newest_first]
    assert positions == sorted(positions)
    for _, key in newest_first:
        assert f"idempotencyKey {key}" in text and f"error: Klaviyo 400 invalid: {key}" in text


async def test_nothing_failed_and_pages_past_the_end(operator, store, conn) -> None:
    assert operator("failed", "coupons").stdout.strip() == "No failed coupons."
    await fail_rows(conn, "coupon_state", "true", "Klaviyo 409 duplicate code")
    result = operator("failed", "coupons", "--page", "3")
    assert result.returncode == 0
    assert result.stdout.strip() == "Page 3 is empty: 1 failed coupons in all."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "500"], "--limit must be an integer between 1 and 200, got '500'"),
        (["--limit", "ten"], "--limit must be an integer between 1 and 200, got 'ten'"),
        (["--page", "0"], "--page must be an integer between 1 and 1000000000, got '0'"),
    ],
)
def test_bad_paging_exits_2_naming_the_option(operator, args, message) -> None:
    result = operator("failed", "events", *args)
    assert result.returncode == 2
    assert message in result.stderr and result.stdout == ""
