"""The listeners on the reference store: each metric's frozen outbox row from real writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.klaviyo.outbox.producers import bootstrap_profiles
from app.store.carts import add_cart_line, create_cart, set_line_quantity, start_checkout
from app.store.orders import (
    OrderLineInput,
    cancel_order,
    fulfil_order,
    place_order,
    refund_order,
)
from app.store.product_views import record_product_view
from tests.store.sample import outbox_rows, seed_store


async def _order(conn, sample, order_id="o-1", **extra):
    return await place_order(
        conn,
        customer_id=sample.customer_id,
        currency="USD",
        order_id=order_id,
        number="1001",
        discount_code="WELCOME10",
        discount_minor=400,
        shipping_minor=500,
        tax_minor=300,
        lines=[
            OrderLineInput(
                name="Bücherregal ‘Nordlicht’",
                quantity=2,
                unit_price_minor=1999,
                variant_id=sample.shelf_variant,
            ),
            OrderLineInput(
                name="Desk lamp", quantity=1, unit_price_minor=500, variant_id=sample.lamp_variant
            ),
        ],
        **extra,
    )


async def test_placed_order_and_ordered_products(conn):
    sample = await seed_store(conn)
    await _order(conn, sample)
    rows = await outbox_rows(conn)

    assert set(rows) == {"order:o-1", "order:o-1:line:1", "order:o-1:line:2"}
    placed = rows["order:o-1"]
    assert placed["metric_name"] == "Placed Order"
    assert (placed["value_cents"], placed["value_currency"]) == (4498 - 400 + 500 + 300, "USD")
    assert placed["customer_id"] == sample.customer_id
    assert placed["profile"] == {"external_id": sample.customer_id, "email": "zoe@example.com"}
    props = placed["properties"]
    assert props["OrderId"] == "o-1"
    assert props["DiscountCode"] == "WELCOME10"
    assert props["DiscountValue_cents"] == 400
    assert props["ItemNames"] == ["Bücherregal ‘Nordlicht’", "Desk lamp"]
    assert sorted(props["Categories"]) == ["Bücherregale", "Furniture", "Lighting"]
    first = props["Items"][0]
    assert first == {
        "ProductID": sample.shelf_product,
        "SKU": "SHELF-1",
        "ProductName": "Bücherregal ‘Nordlicht’",
        "Quantity": 2,
        "ItemPrice_cents": 1999,
        "RowTotal_cents": 3998,
        "ProductURL": "https://shop.example/p/nordlicht",
        "ImageURL": "https://shop.example/i/nordlicht.jpg",
        "Brand": "Ørsted Møbler",
        "Categories": ["Furniture", "Bücherregale"],
    }

    line = rows["order:o-1:line:2"]
    assert line["metric_name"] == "Ordered Product"
    assert (line["value_cents"], line["value_currency"]) == (500, "USD")
    assert line["properties"]["OrderId"] == "o-1"
    assert line["properties"]["ProductName"] == "Desk lamp"
    assert line["properties"]["Categories"] == ["Lighting"]
    assert line["occurred_at"] == placed["occurred_at"]


async def test_status_events_share_the_placed_order_unique_id(conn):
    sample = await seed_store(conn)
    await _order(conn, sample)
    shipped = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    await fulfil_order(conn, "o-1", at=shipped)
    await cancel_order(conn, "o-1", reason="Kunde hat storniert")
    await refund_order(conn, "o-1", reason="damaged in transit")
    rows = await outbox_rows(conn)

    fulfilled = rows["order:o-1:fulfilled"]
    cancelled = rows["order:o-1:cancelled"]
    refunded = rows["order:o-1:refunded"]
    assert rows["order:o-1"]["unique_id"] is None
    for row, metric in (
        (fulfilled, "Fulfilled Order"),
        (cancelled, "Cancelled Order"),
        (refunded, "Refunded Order"),
    ):
        assert row["metric_name"] == metric
        assert row["unique_id"] == "order:o-1"
        assert row["properties"]["OrderId"] == "o-1"
        assert row["value_cents"] == rows["order:o-1"]["value_cents"]
    assert fulfilled["occurred_at"] == shipped
    assert "Reason" not in fulfilled["properties"]
    assert cancelled["properties"]["Reason"] == "Kunde hat storniert"
    assert refunded["properties"]["Reason"] == "damaged in transit"


async def test_keys_are_stable_across_retries_and_re_bootstrap(conn):
    sample = await seed_store(conn)
    await _order(conn, sample)
    await fulfil_order(conn, "o-1")
    before = await outbox_rows(conn)

    # A listener firing again, a producer called again by hand, a second fulfilment attempt
    # and a bootstrap record nothing new and change nothing frozen.
    await conn.execute("UPDATE core.orders SET fulfilled_at = fulfilled_at + interval '1 s'")
    cur = await conn.execute("SELECT klaviyo.record_order_events('o-1')")
    assert (await cur.fetchone())[0] == 0
    assert await fulfil_order(conn, "o-1") is False
    await bootstrap_profiles(conn)
    after = await outbox_rows(conn)

    assert set(after) == set(before)
    for key, row in before.items():
        assert after[key]["id"] == row["id"]
        assert after[key]["properties"] == row["properties"]
        assert after[key]["occurred_at"] == row["occurred_at"]


async def test_order_placed_already_fulfilled_records_both(conn):
    sample = await seed_store(conn)
    async with conn.transaction():
        await _order(conn, sample, order_id="hist", placed_at=datetime(2019, 3, 1, tzinfo=UTC))
        await fulfil_order(conn, "hist", at=datetime(2019, 3, 4, tzinfo=UTC))
    rows = await outbox_rows(conn)
    assert {"order:hist", "order:hist:line:1", "order:hist:line:2", "order:hist:fulfilled"} == set(
        rows
    )
    assert all(row["backfill"] for row in rows.values())
    assert len(rows["order:hist"]["properties"]["Items"]) == 2


async def test_guest_order_with_email_is_recorded_and_anonymous_one_is_not(conn):
    sample = await seed_store(conn)
    line = OrderLineInput(
        name="Tea", quantity=1, unit_price_minor=1200, variant_id=sample.tea_variant
    )
    await place_order(conn, currency="JPY", email="guest@example.jp", lines=[line], order_id="g1")
    await place_order(conn, currency="JPY", lines=[line], order_id="anon")
    rows = await outbox_rows(conn)
    assert rows["order:g1"]["profile"] == {"email": "guest@example.jp"}
    assert rows["order:g1"]["value_currency"] == "JPY"
    assert not any(key.startswith("order:anon") for key in rows)
    cur = await conn.execute("SELECT count(*) FROM core.orders WHERE id = 'anon'")
    assert (await cur.fetchone())[0] == 1


async def test_cart_events(conn):
    sample = await seed_store(conn)
    cart = await create_cart(
        conn,
        customer_id=sample.customer_id,
        currency="USD",
        cart_id="k-1",
        checkout_url="https://shop.example/checkout/k-1",
    )
    await add_cart_line(
        conn,
        cart,
        name="Desk lamp",
        quantity=1,
        unit_price_minor=500,
        variant_id=sample.lamp_variant,
    )
    await add_cart_line(
        conn,
        cart,
        name="Bücherregal ‘Nordlicht’",
        quantity=1,
        unit_price_minor=1999,
        variant_id=sample.shelf_variant,
    )
    await start_checkout(conn, cart)
    await set_line_quantity(conn, cart, 1, 3)
    await set_line_quantity(conn, cart, 2, 1)  # unchanged quantity: no Added to Cart
    await start_checkout(conn, cart)
    rows = await outbox_rows(conn)

    assert set(rows) == {
        "cart:k-1:line:1:v2",
        "cart:k-1:line:2:v3",
        "checkout:k-1:3",
        "cart:k-1:line:1:v4",
        "checkout:k-1:5",
    }
    added = rows["cart:k-1:line:2:v3"]
    assert added["metric_name"] == "Added to Cart"
    assert (added["value_cents"], added["value_currency"]) == (2499, "USD")
    props = added["properties"]
    assert props["AddedItemProductName"] == "Bücherregal ‘Nordlicht’"
    assert props["AddedItemProductID"] == sample.shelf_product
    assert props["AddedItemSKU"] == "SHELF-1"
    assert props["AddedItemPrice_cents"] == 1999
    assert props["AddedItemQuantity"] == 1
    assert props["AddedItemCategories"] == ["Furniture", "Bücherregale"]
    assert props["AddedItemImageURL"] == "https://shop.example/i/nordlicht.jpg"
    assert props["ItemNames"] == ["Desk lamp", "Bücherregal ‘Nordlicht’"]
    assert len(props["Items"]) == 2

    checkout = rows["checkout:k-1:5"]
    assert checkout["metric_name"] == "Started Checkout"
    assert checkout["value_cents"] == 3 * 500 + 1999
    assert checkout["properties"]["CheckoutURL"] == "https://shop.example/checkout/k-1"
    assert [i["Quantity"] for i in checkout["properties"]["Items"]] == [3, 1]
    assert rows["checkout:k-1:3"]["value_cents"] == 2499


async def test_viewed_product(conn):
    sample = await seed_store(conn)
    viewed = datetime.now(UTC) - timedelta(minutes=1)
    view_id = await record_product_view(
        conn, sample.shelf_product, customer_id=sample.customer_id, viewed_at=viewed
    )
    await record_product_view(conn, sample.shelf_product)  # anonymous: nothing to attach to
    rows = await outbox_rows(conn)
    assert set(rows) == {f"view:{view_id}"}
    row = rows[f"view:{view_id}"]
    assert row["metric_name"] == "Viewed Product"
    assert row["occurred_at"] == viewed
    assert (row["value_cents"], row["value_currency"]) == (1999, "USD")
    assert row["properties"]["ProductName"] == "Bücherregal ‘Nordlicht’"
    assert row["properties"]["URL"] == "https://shop.example/p/nordlicht"
    assert row["properties"]["Categories"] == ["Furniture", "Bücherregale"]
