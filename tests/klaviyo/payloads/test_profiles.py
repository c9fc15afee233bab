"""Profile payloads from customers read through the source contract."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.klaviyo.outbox.profile_source import load_profile_sources
from app.klaviyo.payloads.profiles import (
    consent_email,
    consent_of,
    normalise_phone,
    profile_attributes,
    profile_bulk_import_job,
    profile_resource,
    subscription_create_job,
    subscription_delete_job,
)
from app.store.customers import create_customer
from tests.klaviyo.payloads.openapi import assert_matches_spec


async def _customers(conn):
    ids = {
        "full": await create_customer(
            conn,
            customer_id="c-full",
            email=" Zoë@Example.com ",
            phone="01 437 0200",
            first_name="Zoë",
            last_name="Ó Súilleabháin",
            locale="en_GB",
            address1="1 Straße",
            city="Dún Laoghaire",
            region="Dublin",
            postal_code="A96",
            country_code="IE",
            properties={"loyalty_tier": "gold"},
            accepts_email_marketing=True,
            consent_updated_at=datetime(2025, 5, 1, tzinfo=UTC),
        ),
        "bad_phone": await create_customer(
            conn, customer_id="c-bad", email="bad@example.com", phone="12", country_code="US"
        ),
        "bare": await create_customer(conn, customer_id="c-bare", first_name="陽菜"),
        "unsubscribed": await create_customer(
            conn,
            customer_id="c-unsub",
            email="u@example.com",
            consent_updated_at=datetime(2025, 1, 1, tzinfo=UTC),
        ),
    }
    rows = await load_profile_sources(conn, list(ids.values()) + ["c-missing"])
    return {name: rows[customer] for name, customer in ids.items()}


async def test_loader_reads_a_batch_and_skips_unknown_ids(conn):
    rows = await _customers(conn)
    assert rows["full"]["customer_id"] == "c-full"
    assert await load_profile_sources(conn, []) == {}
    assert set(await load_profile_sources(conn, ["c-full", "nope"])) == {"c-full"}


async def test_full_profile(conn):
    full = (await _customers(conn))["full"]
    attributes, warnings = profile_attributes(full)
    assert warnings == []
    assert attributes == {
        "external_id": "c-full",
        "email": "Zoë@example.com",
        "phone_number": "+35314370200",
        "first_name": "Zoë",
        "last_name": "Ó Súilleabháin",
        "locale": "en-GB",
        "location": {
            "address1": "1 Straße",
            "city": "Dún Laoghaire",
            "region": "Dublin",
            "zip": "A96",
            "country": "Ireland",
        },
        "properties": {"loyalty_tier": "gold"},
    }
    resource, _ = profile_resource(full, klaviyo_profile_id="01K")
    assert resource["id"] == "01K"
    assert_matches_spec({"data": resource}, "ProfileUpsertQuery")
    assert_matches_spec(profile_bulk_import_job([resource]), "ProfileImportJobCreateQuery")


async def test_unparseable_phone_is_left_out_with_a_warning(conn):
    attributes, warnings = profile_attributes((await _customers(conn))["bad_phone"])
    assert "phone_number" not in attributes
    assert attributes["email"] == "bad@example.com"
    assert warnings == ["phone '12' is not a valid number for country US; left out of the profile"]


async def test_external_id_only_profile_is_valid(conn):
    attributes, warnings = profile_attributes((await _customers(conn))["bare"])
    assert attributes == {"external_id": "c-bare", "first_name": "陽菜"}
    assert warnings == []
    assert_matches_spec(
        {"data": {"type": "profile", "attributes": attributes}}, "ProfileUpsertQuery"
    )


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("(212) 555-0123", "US", "+12125550123"),
        ("030 12345678", "DE", "+493012345678"),
        ("03-1234-5678", "JP", "+81312345678"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("2222 1234", "KW", "+96522221234"),
    ],
)
def test_phones_in_national_formats_become_e164(raw, country, e164):
    assert normalise_phone(raw, country) == (e164, None)


@pytest.mark.parametrize(
    ("raw", "country", "warning"),
    [
        ("not a phone", "US", "phone 'not a phone' is not a valid number for country US"),
        ("020 7946 0958", None, "phone '020 7946 0958' is not a valid number (no country"),
        ("+1 555", "US", "phone '+1 555' is not a valid number for country US"),
    ],
)
def test_unreadable_phones_warn(raw, country, warning):
    number, problem = normalise_phone(raw, country)
    assert number is None
    assert problem.startswith(warning)


def test_invalid_email_locale_and_country_warn_and_drop_only_that_field():
    attributes, warnings = profile_attributes(
        {
            "customer_id": "c",
            "email": "no-at-sign",
            "locale": "xx_QQ_bogus",
            "country_code": "QQ",
            "city": "Atlantis",
        }
    )
    assert attributes == {"external_id": "c", "location": {"city": "Atlantis"}}
    assert len(warnings) == 3
    assert any("email 'no-at-sign'" in w for w in warnings)
    assert any("locale 'xx_QQ_bogus'" in w for w in warnings)
    assert any("country code 'QQ'" in w for w in warnings)


async def test_consent_matches_the_sql_mirror(conn):
    rows = await _customers(conn)
    assert consent_of(rows["full"]) == "subscribed"
    assert consent_of(rows["unsubscribed"]) == "unsubscribed"
    assert consent_of(rows["bare"]) == "never_subscribed"
    cases = [(True, None), (True, datetime.now(UTC)), (False, datetime.now(UTC)), (False, None)]
    for accepts, at in cases:
        cur = await conn.execute("SELECT klaviyo.consent_status(%s, %s)", (accepts, at))
        sql_answer = (await cur.fetchone())[0]
        row = {"accepts_email_marketing": accepts, "consent_updated_at": at}
        assert consent_of(row) == sql_answer


async def test_subscription_jobs_match_the_spec(conn):
    rows = await _customers(conn)
    subscribe = subscription_create_job([rows["full"]], historical_import=True)
    assert_matches_spec(subscribe, "SubscriptionCreateJobCreateQuery")
    profile = subscribe["data"]["attributes"]["profiles"]["data"][0]["attributes"]
    assert profile["email"] == "Zoë@example.com"
    assert profile["subscriptions"]["email"]["marketing"] == {
        "consent": "SUBSCRIBED",
        "consented_at": "2025-05-01T00:00:00+00:00",
    }
    assert "relationships" not in subscribe["data"]  # consent, never list membership

    plain = subscription_create_job([rows["full"]])
    marketing = plain["data"]["attributes"]["profiles"]["data"][0]["attributes"]["subscriptions"]
    assert marketing == {"email": {"marketing": {"consent": "SUBSCRIBED"}}}

    unsubscribe = subscription_delete_job([rows["unsubscribed"]])
    assert_matches_spec(unsubscribe, "SubscriptionDeleteJobCreateQuery")
    entry = unsubscribe["data"]["attributes"]["profiles"]["data"][0]["attributes"]
    assert entry == {
        "email": "u@example.com",
        "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}},
    }


async def test_consent_job_refuses_a_customer_without_email(conn):
    rows = await _customers(conn)
    assert consent_email(rows["bare"]) is None
    with pytest.raises(ValueError, match="customer c-bare has no valid e-mail"):
        subscription_delete_job([rows["bare"]])
