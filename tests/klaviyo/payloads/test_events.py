"""Event payloads built from outbox rows written by real store transactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.klaviyo.payloads.events import (
    EVENT_PAYLOAD_COLUMNS,
    EventPayloadError,
    event_attributes,
    event_create_body,
    events_bulk_create_job,
    iso_time,
    push_properties,
)
from app.store.carts import add_cart_line, create_cart, start_checkout
from app.store.orders import OrderLineInput, cancel_order, place_order
from app.store.product_views import record_product_view
from tests.klaviyo.payloads.openapi import assert_matches_spec
from tests.store.sample import outbox_rows, seed_store


async def _every_metric(conn):
    sample = await seed_store(conn)
    shelf = OrderLineInput(
        name="Bücherregal ‘Nordlicht’",
        quantity=2,
        unit_price_minor=1999,
        variant_id=sample.shelf_variant,
    )
    await place_order(
        conn,
        customer_id=sample.customer_id,
        currency="USD",
        order_id="o-usd",
        lines=[shelf],
        discount_code="WELCOME10",
        discount_minor=399,
    )
    await cancel_order(conn, "o-usd", reason="changed mind")
    tea = OrderLineInput(
        name="緑茶", quantity=3, unit_price_minor=1200, variant_id=sample.tea_variant
    )
    await place_order(
        conn, customer_id=sample.customer_id, currency="JPY", order_id="o-jpy", lines=[tea]
    )
    dates = OrderLineInput(
        name="تمر", quantity=1, unit_price_minor=1250, variant_id=sample.dates_variant
    )
    await place_order(
        conn, customer_id=sample.customer_id, currency="KWD", order_id="o-kwd", lines=[dates]
    )
    cart = await create_cart(conn, customer_id=sample.customer_id, currency="USD", cart_id="k")
    await add_cart_line(
        conn,
        cart,
        name="Desk lamp",
        quantity=1,
        unit_price_minor=500,
        variant_id=sample.lamp_variant,
    )
    await start_checkout(conn, cart)
    await record_product_view(conn, sample.lamp_product, customer_id=sample.customer_id)
    return sample, await outbox_rows(conn)


async def test_every_metric_builds_a_spec_valid_event(conn):
    sample, rows = await _every_metric(conn)
    metrics = {row["metric_name"] for row in rows.values()}
    assert metrics == {
        "Placed Order",
        "Ordered Product",
        "Cancelled Order",
        "Added to Cart",
        "Started Checkout",
        "Viewed Product",
    }
    for row in rows.values():
        body = event_create_body({name: row[name] for name in EVENT_PAYLOAD_COLUMNS})
        assert_matches_spec(body, "EventCreateQueryV2")
        attributes = body["data"]["attributes"]
        assert attributes["metric"]["data"]["attributes"]["name"] == row["metric_name"]
        assert attributes["profile"]["data"]["attributes"] == {
            "external_id": sample.customer_id,
            "email": "zoe@example.com",
        }
        assert not any(key.endswith("_cents") for key in _all_keys(attributes["properties"]))


async def test_placed_order_money_and_ids(conn):
    _, rows = await _every_metric(conn)
    placed = event_attributes(rows["order:o-usd"])
    assert placed["value"] == 35.99
    assert placed["value_currency"] == "USD"
    assert placed["unique_id"] == "order:o-usd"
    assert placed["properties"]["DiscountValue"] == 3.99
    assert placed["properties"]["Items"][0]["ItemPrice"] == 19.99
    assert placed["properties"]["Items"][0]["RowTotal"] == 39.98
    assert placed["backfill"] is False
    assert datetime.fromisoformat(placed["time"]).utcoffset() is not None

    cancelled = event_attributes(rows["order:o-usd:cancelled"])
    assert cancelled["unique_id"] == "order:o-usd"
    assert cancelled["properties"]["Reason"] == "changed mind"
    assert cancelled["properties"]["OrderId"] == "o-usd"


@pytest.mark.parametrize(
    ("key", "value", "item_price"),
    [("order:o-jpy", 3600, 1200), ("order:o-kwd", 1.25, 1.25), ("order:o-usd", 35.99, 19.99)],
)
async def test_money_uses_the_currency_exponent(conn, key, value, item_price):
    _, rows = await _every_metric(conn)
    attributes = event_attributes(rows[key])
    assert attributes["value"] == value
    assert attributes["properties"]["Items"][0]["ItemPrice"] == item_price
    if attributes["value_currency"] == "JPY":
        assert isinstance(attributes["value"], int)


@pytest.mark.parametrize(("currency", "value"), [("HUF", 39.98), ("COP", 39.98), ("IQD", 3.998)])
async def test_money_uses_the_iso_minor_unit_not_the_display_digits(conn, currency, value):
    sample = await seed_store(conn)
    line = OrderLineInput(name="Shelf", quantity=2, unit_price_minor=1999)
    await place_order(
        conn, customer_id=sample.customer_id, currency=currency, order_id="o-1", lines=[line]
    )
    attributes = event_attributes((await outbox_rows(conn))["order:o-1"])
    assert attributes["value"] == value and attributes["value_currency"] == currency
    assert attributes["properties"]["Items"][0]["ItemPrice"] == value / 2


async def test_bulk_job_groups_by_profile_and_maps_positions(conn):
    sample, rows = await _every_metric(conn)
    ordered = sorted(rows.values(), key=lambda r: r["idempotency_key"])
    guest = dict(
        ordered[0],
        customer_id=None,
        email="guest@example.com",
        profile={"email": "guest@example.com"},
        idempotency_key="guest:1",
    )
    batch = [*ordered, guest]
    body, positions = events_bulk_create_job(batch)

    assert_matches_spec(body, "EventsBulkCreateJob")
    entries = body["data"]["attributes"]["events-bulk-create"]["data"]
    assert len(entries) == 2
    assert sorted(i for entry in positions for i in entry) == list(range(len(batch)))
    for entry, indexes in zip(entries, positions, strict=True):
        events = entry["attributes"]["events"]["data"]
        assert [e["attributes"]["unique_id"] for e in events] == [
            batch[i].get("unique_id") or batch[i]["idempotency_key"] for i in indexes
        ]
    assert positions[1] == [len(batch) - 1]
    assert entries[1]["attributes"]["profile"]["data"]["attributes"] == {
        "email": "guest@example.com"
    }


async def test_backfill_flag_reaches_the_payload(conn):
    sample = await seed_store(conn)
    line = OrderLineInput(name="Lamp", quantity=1, unit_price_minor=500)
    await place_order(
        conn,
        customer_id=sample.customer_id,
        currency="USD",
        lines=[line],
        order_id="old",
        placed_at=datetime.now(UTC) - timedelta(days=400),
    )
    attributes = event_attributes((await outbox_rows(conn))["order:old"])
    assert attributes["backfill"] is True


def test_properties_without_currency_are_refused():
    with pytest.raises(EventPayloadError, match="event e1 has Price_cents but no value_currency"):
        push_properties({"Price_cents": 100}, None, "e1")
    row = {
        "idempotency_key": "e2",
        "metric_name": "M",
        "profile": {"email": "a@b.co"},
        "properties": {},
        "value_cents": 5,
        "value_currency": None,
        "occurred_at": datetime.now(UTC),
    }
    with pytest.raises(EventPayloadError, match="e2 has value_cents but no value_currency"):
        event_attributes(row)


def test_cents_fields_convert_at_any_depth_and_others_stay():
    converted = push_properties(
        {
            "Total_cents": 1005,
            "Count": 2,
            "Flag_cents": True,
            "Items": [{"ItemPrice_cents": 250, "Name": "x"}],
        },
        "EUR",
    )
    assert converted == {
        "Total": 10.05,
        "Count": 2,
        "Flag_cents": True,
        "Items": [{"ItemPrice": 2.5, "Name": "x"}],
    }


def test_times_keep_their_offset_and_naive_is_utc():
    tokyo = timezone(timedelta(hours=9))
    assert iso_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=tokyo)) == "2026-01-02T03:04:05+09:00"
    assert iso_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05+00:00"


def _all_keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _all_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _all_keys(item)
