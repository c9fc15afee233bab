"""The producers inside the store's transaction: rollback, module switch, dedup, change_seq."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.klaviyo.outbox.module_switch import apply_module_config, module_enabled
from app.klaviyo.outbox.producers import bootstrap_profiles, record_event, touch_customer
from app.store.customers import create_customer, set_marketing_consent, update_customer
from app.store.orders import OrderLineInput, place_order
from tests.store.sample import outbox_rows, profile_rows, seed_store


class _Rollback(Exception):
    pass


async def test_rolled_back_store_write_leaves_no_outbox_row(conn):
    sample = await seed_store(conn)
    before_profiles = await profile_rows(conn)
    with pytest.raises(_Rollback):
        async with conn.transaction():
            customer = await create_customer(conn, email="gone@example.com")
            order_id = await place_order(
                conn,
                customer_id=sample.customer_id,
                currency="USD",
                lines=[OrderLineInput(name="Shelf", quantity=1, unit_price_minor=1999)],
            )
            # The order listeners are deferred to commit: fire them now, so the rollback has
            # outbox rows to undo.
            await conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
            assert f"order:{order_id}" in await outbox_rows(conn)
            assert customer in await profile_rows(conn)
            raise _Rollback

    assert await outbox_rows(conn) == {}
    assert (await profile_rows(conn)).keys() == before_profiles.keys()


async def test_module_disabled_records_nothing(conn):
    await apply_module_config(conn, enabled=False, backfill_age_s=86400)
    assert await module_enabled(conn) is False
    sample = await seed_store(conn)
    async with conn.transaction():
        await place_order(
            conn,
            customer_id=sample.customer_id,
            currency="USD",
            lines=[OrderLineInput(name="Shelf", quantity=1, unit_price_minor=1999)],
        )
    assert await touch_customer(conn, sample.customer_id) is None
    key = await record_event(
        conn,
        idempotency_key="manual:1",
        metric_name="Manual",
        customer_id="x",
        occurred_at=datetime.now(UTC),
    )
    assert key is None
    assert await bootstrap_profiles(conn) == 0
    assert await outbox_rows(conn) == {}
    assert await profile_rows(conn) == {}

    await apply_module_config(conn, enabled=True, backfill_age_s=86400)
    assert await touch_customer(conn, sample.customer_id) is not None


async def test_customer_insert_and_synced_change_touch_the_profile(conn):
    customer = await create_customer(conn, email="Ana@Example.com", first_name="Ana")
    state = (await profile_rows(conn))[customer]
    assert (state["status"], state["change_seq"], state["email"]) == (
        "pending",
        1,
        "Ana@Example.com",
    )
    assert state["subscription_status"] == "never_subscribed"

    # The drain pushed it.
    await conn.execute(
        "UPDATE klaviyo.profile_state SET status = 'synced', pushed_seq = change_seq, "
        "attempts = 3, last_error = 'old' WHERE customer_id = %s",
        (customer,),
    )
    # A field the profile does not carry: no touch.
    await conn.execute("UPDATE core.customers SET updated_at = now() WHERE id = %s", (customer,))
    assert (await profile_rows(conn))[customer]["status"] == "synced"

    await set_marketing_consent(conn, customer, True)
    state = (await profile_rows(conn))[customer]
    assert (state["status"], state["change_seq"], state["attempts"]) == ("pending", 2, 0)
    assert state["subscription_status"] == "subscribed"
    assert state["last_error"] is None

    await set_marketing_consent(conn, customer, False)
    assert (await profile_rows(conn))[customer]["subscription_status"] == "unsubscribed"


async def test_touch_during_in_flight_push_keeps_row_pending(conn):
    customer = await create_customer(conn, email="flight@example.com")
    # The drain claims the row and remembers the change_seq it read.
    cur = await conn.execute(
        "UPDATE klaviyo.profile_state SET leased_by = 'w1', "
        "lease_expires_at = now() + interval '60 s' WHERE customer_id = %s "
        "RETURNING change_seq",
        (customer,),
    )
    claimed_seq = (await cur.fetchone())[0]

    await update_customer(conn, customer, first_name="Changed meanwhile")

    # The push ends: synced only if no touch came in since the claim.
    cur = await conn.execute(
        """
        UPDATE klaviyo.profile_state
        SET pushed_seq = %(seq)s, leased_by = NULL, lease_expires_at = NULL,
            status = CASE WHEN change_seq = %(seq)s THEN 'synced' ELSE status END
        WHERE customer_id = %(customer)s
        RETURNING status, change_seq, pushed_seq
        """,
        {"seq": claimed_seq, "customer": customer},
    )
    status, change_seq, pushed_seq = await cur.fetchone()
    assert status == "pending"
    assert change_seq == claimed_seq + 1
    assert pushed_seq == claimed_seq


async def test_touch_keeps_a_lease_and_answers_none_for_unknown_customer(conn):
    customer = await create_customer(conn, email="lease@example.com")
    await conn.execute(
        "UPDATE klaviyo.profile_state SET leased_by = 'w1' WHERE customer_id = %s",
        (customer,),
    )
    assert await touch_customer(conn, customer) is not None
    assert (await profile_rows(conn))[customer]["leased_by"] == "w1"
    assert await touch_customer(conn, "no-such-customer") is None


async def test_suppressed_survives_a_store_touch(conn):
    customer = await create_customer(conn, email="sup@example.com")
    await conn.execute(
        "UPDATE klaviyo.profile_state SET subscription_status = 'suppressed' "
        "WHERE customer_id = %s",
        (customer,),
    )
    await update_customer(conn, customer, first_name="Still suppressed")
    assert (await profile_rows(conn))[customer]["subscription_status"] == "suppressed"


async def test_bootstrap_twice_creates_no_duplicates(conn):
    async with conn.transaction():
        ids = [await create_customer(conn, email=f"c{i}@example.com") for i in range(5)]
        deleted = await create_customer(conn, email="deleted@example.com")
        await conn.execute("UPDATE core.customers SET deleted_at = now() WHERE id = %s", (deleted,))
        await conn.execute(
            "DELETE FROM klaviyo.profile_state WHERE customer_id = ANY(%s)", (ids[:3],)
        )

    assert await bootstrap_profiles(conn) == 5
    first = await profile_rows(conn)
    assert await bootstrap_profiles(conn) == 5
    second = await profile_rows(conn)

    assert set(first) == set(second) == {*ids, deleted}
    for customer in ids:
        assert second[customer]["id"] == first[customer]["id"]
        assert second[customer]["change_seq"] == first[customer]["change_seq"] + 1
        assert second[customer]["status"] == "pending"
    cur = await conn.execute("SELECT count(*) FROM klaviyo.profile_state")
    assert (await cur.fetchone())[0] == 6


async def test_record_event_dedups_on_idempotency_key(conn):
    at = datetime.now(UTC)
    first = await record_event(
        conn,
        idempotency_key="manual:42",
        metric_name="Manual",
        customer_id="c-42",
        properties={"n": 1},
        value_cents=100,
        value_currency="USD",
        occurred_at=at,
    )
    again = await record_event(
        conn,
        idempotency_key="manual:42",
        metric_name="Manual",
        customer_id="c-42",
        properties={"n": 2},
        value_cents=999,
        value_currency="USD",
        occurred_at=at,
    )
    rows = await outbox_rows(conn)
    assert first is not None and again is None
    assert rows["manual:42"]["properties"] == {"n": 1}
    assert rows["manual:42"]["profile"] == {"external_id": "c-42"}
    assert rows["manual:42"]["backfill"] is False


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"idempotency_key": ""}, "idempotency_key is required"),
        ({"metric_name": ""}, "metric_name is required"),
        ({"customer_id": None}, "names no profile"),
        ({"value_currency": None}, "value_cents needs value_currency"),
        ({"value_currency": "usd"}, "event_outbox_value_currency_check"),
    ],
)
async def test_record_event_rejects_bad_input_by_name(conn, fields, message):
    arguments = {
        "idempotency_key": "manual:bad",
        "metric_name": "Manual",
        "customer_id": "c-1",
        "value_cents": 100,
        "value_currency": "USD",
        "occurred_at": datetime.now(UTC),
    } | fields
    with pytest.raises(psycopg.Error, match=message):
        await record_event(conn, **arguments)


async def test_old_events_are_backfill_also_when_a_listener_records_them(conn):
    await apply_module_config(conn, enabled=True, backfill_age_s=3600)
    sample = await seed_store(conn)
    line = OrderLineInput(name="Shelf", quantity=1, unit_price_minor=1999)
    now = datetime.now(UTC)
    async with conn.transaction():
        await place_order(
            conn,
            customer_id=sample.customer_id,
            currency="USD",
            lines=[line],
            placed_at=now - timedelta(hours=2),
            order_id="old",
        )
        await place_order(
            conn,
            customer_id=sample.customer_id,
            currency="USD",
            lines=[line],
            placed_at=now - timedelta(minutes=5),
            order_id="new",
        )

    manual_old = await record_event(
        conn,
        idempotency_key="manual:old",
        metric_name="Manual",
        customer_id="c",
        occurred_at=now - timedelta(days=3),
        backfill=False,
    )
    rows = await outbox_rows(conn)
    assert manual_old is not None
    assert rows["order:old"]["backfill"] is True
    assert rows["order:old:line:1"]["backfill"] is True
    assert rows["order:new"]["backfill"] is False
    assert rows["manual:old"]["backfill"] is True


async def test_renamed_metric_is_used_by_listeners(conn):
    await conn.execute(
        "INSERT INTO klaviyo.metric_names (metric_key, name) "
        "VALUES ('placed_order', 'Order Placed (store)') "
        "ON CONFLICT (metric_key) DO UPDATE SET name = EXCLUDED.name"
    )
    sample = await seed_store(conn)
    async with conn.transaction():
        await place_order(
            conn,
            customer_id=sample.customer_id,
            currency="USD",
            order_id="r1",
            lines=[OrderLineInput(name="Shelf", quantity=1, unit_price_minor=1999)],
        )
    rows = await outbox_rows(conn)
    assert rows["order:r1"]["metric_name"] == "Order Placed (store)"
    assert rows["order:r1:line:1"]["metric_name"] == "Ordered Product"
