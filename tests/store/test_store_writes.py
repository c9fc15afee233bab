"""The reference store's writers and the source contract views over them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from app.store.carts import add_cart_line, create_cart, start_checkout
from app.store.catalog import create_category
from app.store.customers import create_customer, delete_customer, update_customer
from app.store.discounts import create_discount
from app.store.orders import OrderLineInput, cancel_order, place_order
from tests.store.sample import profile_rows, seed_store


async def _one(conn, query, params=()):
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def test_order_totals_and_lines(conn):
    sample = await seed_store(conn)
    order_id = await place_order(
        conn,
        customer_id=sample.customer_id,
        currency="USD",
        discount_minor=100,
        shipping_minor=450,
        tax_minor=80,
        lines=[
            OrderLineInput(name="Shelf", quantity=2, unit_price_minor=1999),
            OrderLineInput(name="Lamp", quantity=3, unit_price_minor=500, total_minor=1350),
        ],
    )
    order = await _one(conn, "SELECT * FROM klaviyo_source.orders WHERE order_id = %s", (order_id,))
    assert order["number"] == order_id
    assert order["subtotal_minor"] == 3998 + 1350
    assert order["total_minor"] == 3998 + 1350 - 100 + 450 + 80
    assert order["email"] == "zoe@example.com"  # from the customer
    lines = await _one(
        conn,
        "SELECT array_agg(line_no ORDER BY line_no) AS nos FROM core.order_lines "
        "WHERE order_id = %s",
        (order_id,),
    )
    assert lines["nos"] == [1, 2]
    with pytest.raises(ValueError, match="at least one line"):
        await place_order(conn, currency="USD", lines=[])


async def test_status_needs_its_time_and_moves_once(conn):
    sample = await seed_store(conn)
    line = OrderLineInput(name="Shelf", quantity=1, unit_price_minor=1999)
    order_id = await place_order(conn, customer_id=sample.customer_id, currency="USD", lines=[line])
    with pytest.raises(psycopg.errors.CheckViolation):
        await conn.execute("UPDATE core.orders SET status = 'refunded' WHERE id = %s", (order_id,))
    assert await cancel_order(conn, order_id, reason="duplicate") is True
    assert await cancel_order(conn, order_id, reason="again") is False
    order = await _one(conn, "SELECT * FROM core.orders WHERE id = %s", (order_id,))
    assert (order["status"], order["cancel_reason"]) == ("cancelled", "duplicate")


async def test_money_and_codes_are_checked_by_the_schema(conn):
    sample = await seed_store(conn)
    line = OrderLineInput(name="x", quantity=1, unit_price_minor=1)
    with pytest.raises(psycopg.errors.CheckViolation, match="orders_currency_check"):
        await place_order(conn, customer_id=sample.customer_id, currency="usd", lines=[line])
    with pytest.raises(psycopg.errors.CheckViolation, match="customers_country_code_check"):
        await create_customer(conn, country_code="Ireland")
    with pytest.raises(ValueError, match="exactly one of percent_off or amount_off_minor"):
        await create_discount(conn, "BOTH", percent_off=10, amount_off_minor=100, currency="USD")
    with pytest.raises(psycopg.errors.CheckViolation):
        await create_discount(conn, "NOCUR", amount_off_minor=100)
    fixed = await create_discount(conn, "FIVE", amount_off_minor=500, currency="EUR")
    row = await _one(
        conn, "SELECT * FROM klaviyo_source.discounts WHERE discount_id = %s", (fixed,)
    )
    assert (row["kind"], row["amount_off_minor"], row["currency"]) == ("fixed", 500, "EUR")


async def test_unknown_customer_field_is_named(conn):
    with pytest.raises(ValueError, match=r"unknown customer field\(s\): \['favourite_colour'\]"):
        await create_customer(conn, favourite_colour="teal")


async def test_category_breadcrumbs(conn):
    root = await create_category(conn, "Office Supplies", slug="office")
    child = await create_category(conn, "Papier & Hüllen", slug="paper", parent_id=root)
    row = await _one(
        conn, "SELECT * FROM klaviyo_source.category_breadcrumbs WHERE category_id = %s", (child,)
    )
    assert row["path_ids"] == [root, child]
    assert row["breadcrumb"] == "Office Supplies > Papier & Hüllen"


async def test_cart_lines_number_themselves_and_bump_the_version(conn):
    sample = await seed_store(conn)
    cart = await create_cart(conn, customer_id=sample.customer_id, currency="USD")
    assert await add_cart_line(conn, cart, name="a", quantity=1, unit_price_minor=100) == 1
    await start_checkout(conn, cart)
    assert await add_cart_line(conn, cart, name="b", quantity=2, unit_price_minor=100) == 2
    row = await _one(conn, "SELECT * FROM klaviyo_source.carts WHERE cart_id = %s", (cart,))
    assert row["version"] == 3
    assert row["checkout_started_at"] is None  # a changed cart leaves checkout
    with pytest.raises(LookupError, match="no cart 'nope'"):
        await add_cart_line(conn, "nope", name="a", quantity=1, unit_price_minor=1)


async def test_consent_write_back_ignores_older_changes(conn):
    customer = await create_customer(conn, email="c@example.com")
    now = datetime.now(UTC)
    set_consent = "SELECT klaviyo_source.set_customer_consent(%s, %s, %s)"

    assert (await _one(conn, set_consent, (customer, True, now)))["set_customer_consent"] is True
    state = (await profile_rows(conn))[customer]
    assert (state["subscription_status"], state["change_seq"]) == ("subscribed", 2)

    older = now - timedelta(hours=1)
    assert (await _one(conn, set_consent, (customer, False, older)))[
        "set_customer_consent"
    ] is False
    assert (await _one(conn, set_consent, (customer, True, now)))["set_customer_consent"] is False
    assert (await _one(conn, set_consent, ("nobody", True, now)))["set_customer_consent"] is False
    row = await _one(
        conn, "SELECT * FROM klaviyo_source.customers WHERE customer_id = %s", (customer,)
    )
    assert (row["accepts_email_marketing"], row["consent_updated_at"]) == (True, now)


async def test_update_and_soft_delete_touch_the_profile(conn):
    customer = await create_customer(conn, email="d@example.com")
    assert await update_customer(conn, customer, last_name="Nguyễn") is True
    assert await update_customer(conn, "nobody", last_name="x") is False
    assert await delete_customer(conn, customer) is True
    assert await delete_customer(conn, customer) is False
    assert (await profile_rows(conn))[customer]["change_seq"] == 3
