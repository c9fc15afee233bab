"""The apply step on real PostgreSQL: topics → store consent and the profile state row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.klaviyo.webhooks import topics
from app.klaviyo.webhooks.apply import apply_pending
from app.store.customers import create_customer, set_marketing_consent
from tests.klaviyo.webhooks.records import consent_row, inbox, state_of, store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def _customer(conn, email="zoe@example.com", subscribed=False, consent_at=None) -> str:
    return await create_customer(
        conn, email=email, accepts_email_marketing=subscribed, consent_updated_at=consent_at
    )


async def test_subscribed_and_unsubscribed_reach_the_store(conn, db_pool):
    customer = await _customer(conn)
    await store(conn, consent_row(topics.SUBSCRIBED_TOPIC, at(1), email="zoe@example.com"))
    await apply_pending(db_pool)

    state = await state_of(conn, customer)
    assert state["subscription_status"] == "subscribed"
    assert state["accepts_email_marketing"] is True
    assert state["consent_updated_at"] == at(1)
    # What Klaviyo holds now: the next push must send no consent job.
    assert state["pushed_consent"] == "subscribed"
    assert state["klaviyo_profile_id"] == "01PROFILE"

    await store(conn, consent_row(topics.UNSUBSCRIBED_TOPIC, at(2), profile_id="01PROFILE"))
    await apply_pending(db_pool)
    state = await state_of(conn, customer)
    assert (state["subscription_status"], state["accepts_email_marketing"]) == (
        "unsubscribed",
        False,
    )
    assert state["pushed_consent"] == "unsubscribed"
    assert [r["result"] for r in await inbox(conn)] == ["subscribed", "unsubscribed"]


async def test_each_suppression_topic_keeps_its_reason_and_the_consent(conn, db_pool):
    cases = {
        topics.SUPPRESSED_TOPIC: "manually_suppressed",
        topics.BOUNCED_TOPIC: "bounced",
        topics.SPAM_TOPIC: "marked_as_spam",
    }
    for i, (topic, reason) in enumerate(cases.items()):
        email = f"s{i}@example.com"
        customer = await _customer(conn, email=email, subscribed=True, consent_at=at(0))
        await store(conn, consent_row(topic, at(1), profile_id=f"P{i}", email=email))
        await apply_pending(db_pool)
        state = await state_of(conn, customer)
        assert (state["subscription_status"], state["suppression_reason"]) == ("suppressed", reason)
        # A suppression is Klaviyo's verdict, not the shopper's consent: the store keeps it.
        assert state["accepts_email_marketing"] is True


async def test_unsuppressed_goes_back_to_the_consent_it_had(conn, db_pool):
    customer = await _customer(conn, subscribed=True, consent_at=at(0))
    await store(
        conn,
        consent_row(topics.SUPPRESSED_TOPIC, at(1), email="zoe@example.com"),
        consent_row(topics.UNSUPPRESSED_TOPIC, at(2), email="zoe@example.com"),
    )
    await apply_pending(db_pool)
    state = await state_of(conn, customer)
    assert (state["subscription_status"], state["suppression_reason"]) == ("subscribed", None)

    other = await _customer(conn, email="ann@example.com", subscribed=False, consent_at=at(0))
    await store(
        conn,
        consent_row(topics.BOUNCED_TOPIC, at(1), profile_id="P2", email="ann@example.com"),
        consent_row(topics.UNSUPPRESSED_TOPIC, at(2), profile_id="P2"),
    )
    await apply_pending(db_pool)
    assert (await state_of(conn, other))["subscription_status"] == "unsubscribed"


async def test_older_event_never_overwrites_a_newer_state(conn, db_pool):
    customer = await _customer(conn)
    # Arrival order: the newer unsubscribe first, the older subscribe afterwards.
    await store(conn, consent_row(topics.UNSUBSCRIBED_TOPIC, at(5), email="zoe@example.com"))
    await apply_pending(db_pool)
    await store(conn, consent_row(topics.SUBSCRIBED_TOPIC, at(3), email="zoe@example.com"))
    await apply_pending(db_pool)

    state = await state_of(conn, customer)
    assert (state["subscription_status"], state["accepts_email_marketing"]) == (
        "unsubscribed",
        False,
    )
    assert state["consent_changed_at"] == at(5)
    assert [r["result"] for r in await inbox(conn)] == ["unsubscribed", "stale"]


async def test_pending_rows_apply_in_event_order_not_arrival_order(conn, db_pool):
    customer = await _customer(conn)
    await store(
        conn,
        consent_row(topics.SUBSCRIBED_TOPIC, at(9), email="zoe@example.com"),
        consent_row(topics.UNSUBSCRIBED_TOPIC, at(4), email="zoe@example.com"),
        consent_row(topics.SUPPRESSED_TOPIC, at(2), email="zoe@example.com"),
        consent_row(topics.UNSUPPRESSED_TOPIC, at(3), email="zoe@example.com"),
    )
    await apply_pending(db_pool)
    state = await state_of(conn, customer)
    assert (state["subscription_status"], state["suppression_reason"]) == ("subscribed", None)
    assert state["consent_changed_at"] == at(9)


async def test_a_newer_subscription_lifts_spam_but_not_a_bounce(conn, db_pool):
    spam = await _customer(conn, email="spam@example.com", subscribed=True, consent_at=at(0))
    bounce = await _customer(conn, email="bounce@example.com", subscribed=True, consent_at=at(0))
    await store(
        conn,
        consent_row(topics.SPAM_TOPIC, at(1), profile_id="PS", email="spam@example.com"),
        consent_row(topics.BOUNCED_TOPIC, at(1), profile_id="PB", email="bounce@example.com"),
        consent_row(topics.SUBSCRIBED_TOPIC, at(2), profile_id="PS"),
        consent_row(topics.SUBSCRIBED_TOPIC, at(2), profile_id="PB"),
    )
    await apply_pending(db_pool)
    assert (await state_of(conn, spam))["subscription_status"] == "subscribed"
    bounced = await state_of(conn, bounce)
    assert (bounced["subscription_status"], bounced["suppression_reason"]) == (
        "suppressed",
        "bounced",
    )


async def test_a_late_spam_complaint_older_than_a_resubscription_is_stale(conn, db_pool):
    customer = await _customer(conn, subscribed=False, consent_at=at(0))
    await store(conn, consent_row(topics.SUBSCRIBED_TOPIC, at(5), email="zoe@example.com"))
    await apply_pending(db_pool)
    await store(conn, consent_row(topics.SPAM_TOPIC, at(4), email="zoe@example.com"))
    await apply_pending(db_pool)
    assert (await state_of(conn, customer))["subscription_status"] == "subscribed"


async def test_a_newer_choice_in_the_store_wins_over_an_older_webhook(conn, db_pool):
    customer = await _customer(conn)
    await set_marketing_consent(conn, customer, True, at(10))
    await store(conn, consent_row(topics.UNSUBSCRIBED_TOPIC, at(7), email="zoe@example.com"))
    await apply_pending(db_pool)
    state = await state_of(conn, customer)
    assert (state["accepts_email_marketing"], state["subscription_status"]) == (True, "subscribed")
    assert [r["result"] for r in await inbox(conn)] == ["store_newer"]


async def test_customer_found_by_profile_id_then_external_id_then_email(conn, db_pool):
    by_email = await _customer(conn, email="Mixed.Case@Example.com")
    by_external = await _customer(conn, email="ext@example.com")
    await store(
        conn,
        consent_row(
            topics.SUBSCRIBED_TOPIC, at(1), profile_id="PE", email="mixed.case@example.com"
        ),
        consent_row(
            topics.SUBSCRIBED_TOPIC,
            at(1),
            profile_id="PX",
            email="someone-else@example.com",
            external_id=by_external,
        ),
    )
    await apply_pending(db_pool)
    assert (await state_of(conn, by_email))["klaviyo_profile_id"] == "PE"
    assert (await state_of(conn, by_external))["klaviyo_profile_id"] == "PX"

    # From now on the profile id alone finds the customer, whatever the e-mail says.
    await store(conn, consent_row(topics.UNSUBSCRIBED_TOPIC, at(2), profile_id="PE"))
    await apply_pending(db_pool)
    assert (await state_of(conn, by_email))["subscription_status"] == "unsubscribed"


async def test_unknown_topics_and_unknown_shoppers_are_kept_and_ignored(conn, db_pool):
    customer = await _customer(conn)
    await store(
        conn,
        consent_row("event:klaviyo.opened_email", at(1), email="zoe@example.com"),
        consent_row(topics.UNSUBSCRIBED_TOPIC, at(1), profile_id="PN", email="nobody@example.com"),
    )
    counts = await apply_pending(db_pool)
    assert counts == {"unknown_topic": 1, "no_customer": 1}
    rows = await inbox(conn)
    assert {(r["status"], r["result"]) for r in rows} == {
        ("ignored", "unknown_topic"),
        ("ignored", "no_customer"),
    }
    assert all(r["applied_at"] is not None for r in rows)
    assert (await state_of(conn, customer))["subscription_status"] == "never_subscribed"


async def test_a_confirming_webhook_does_not_touch_the_store(conn, db_pool):
    customer = await _customer(conn, subscribed=True, consent_at=at(0))
    await conn.execute(
        "UPDATE klaviyo.profile_state SET status = 'synced', pushed_seq = change_seq "
        "WHERE customer_id = %s",
        (customer,),
    )
    await store(conn, consent_row(topics.SUBSCRIBED_TOPIC, at(1), email="zoe@example.com"))
    await apply_pending(db_pool)
    cur = await conn.execute(
        "SELECT status FROM klaviyo.profile_state WHERE customer_id = %s", (customer,)
    )
    # Klaviyo only confirmed what the store holds: no new push is due.
    assert (await cur.fetchone())[0] == "synced"


async def test_a_newer_store_choice_is_pushed_again_over_what_klaviyo_now_holds(conn, db_pool):
    customer = await _customer(conn, subscribed=True, consent_at=at(0))
    # The shopper re-affirmed the subscription in the store, and that push went out: Klaviyo
    # was last sent what the store holds.
    await set_marketing_consent(conn, customer, True, at(10))
    await conn.execute(
        "UPDATE klaviyo.profile_state SET status = 'synced', pushed_seq = change_seq, "
        "pushed_consent = 'subscribed' WHERE customer_id = %s",
        (customer,),
    )
    # An unsubscribe made in Klaviyo before that choice arrives afterwards.
    await store(conn, consent_row(topics.UNSUBSCRIBED_TOPIC, at(7), email="zoe@example.com"))
    await apply_pending(db_pool)

    state = await state_of(conn, customer)
    assert (state["accepts_email_marketing"], state["subscription_status"]) == (True, "subscribed")
    # Klaviyo holds the unsubscribe: recorded, so the store's newer subscribe goes out again.
    assert state["pushed_consent"] == "unsubscribed"
    assert state["consent_changed_at"] == at(7)
    cur = await conn.execute(
        "SELECT status, change_seq > pushed_seq FROM klaviyo.profile_state WHERE customer_id = %s",
        (customer,),
    )
    assert await cur.fetchone() == ("pending", True)
    assert [r["result"] for r in await inbox(conn)] == ["store_newer"]

    # An even older Klaviyo event changes nothing of it.
    await store(conn, consent_row(topics.SUBSCRIBED_TOPIC, at(6), email="zoe@example.com"))
    await apply_pending(db_pool)
    assert (await state_of(conn, customer))["pushed_consent"] == "unsubscribed"
