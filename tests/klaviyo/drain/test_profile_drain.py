"""The profile drain against the sandbox over HTTP: import paths, consent jobs, duplicates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.klaviyo.drain.profiles import drain_profiles
from app.store.customers import create_customer
from tests.fixtures.drain import drain_until
from tests.klaviyo.drain.rows import one


async def _statuses(conn) -> dict[str, int]:
    cur = await conn.execute("SELECT status, count(*) FROM klaviyo.profile_state GROUP BY 1")
    return dict(await cur.fetchall())


async def _customers(conn, count: int, **fields) -> list[str]:
    return [
        await create_customer(
            conn, customer_id=f"c{n}", email=f"c{n}@example.com", first_name=f"N{n}", **fields
        )
        for n in range(count)
    ]


def _requests(sandbox) -> dict[str, int]:
    return sandbox.stats()["requests_per_status"]


async def test_a_few_rows_go_through_profile_import(conn, sandbox, make_drain) -> None:
    for n in range(3):
        await create_customer(
            conn,
            customer_id=f"c{n}",
            email=f"c{n}@example.com",
            phone=f"(415) 555-267{n}",
            country_code="US",
        )
    report = await drain_profiles(make_drain())
    assert report.synced == 3 and report.requests == 3
    assert await _statuses(conn) == {"synced": 3}
    profile_id, error = await one(
        conn,
        "SELECT klaviyo_profile_id, last_error FROM klaviyo.profile_state WHERE customer_id = 'c1'",
    )
    assert error is None
    attributes = sandbox.profile(profile_id)["attributes"]
    assert attributes["external_id"] == "c1" and attributes["phone_number"] == "+14155552671"


async def test_a_backlog_goes_in_one_bulk_import_job(conn, sandbox, make_drain) -> None:
    await _customers(conn, 60)
    report = await drain_profiles(make_drain())
    assert report.synced == 60
    assert await _statuses(conn) == {"synced": 60}
    jobs = sandbox.jobs()
    assert [j["type"] for j in jobs] == ["profile-bulk-import-job"]
    # The ids the job reports are stored, each for its own customer.
    cur = await conn.execute("SELECT customer_id, klaviyo_profile_id FROM klaviyo.profile_state")
    for customer_id, profile_id in await cur.fetchall():
        assert sandbox.profile(profile_id)["attributes"]["external_id"] == customer_id
    assert report.requests < 10


async def test_bulk_job_ids_are_matched_by_external_id_not_by_position(
    conn, sandbox, make_drain
) -> None:
    # Profiles Klaviyo already holds, created last customer first: listed by profile id, the
    # job's profiles come back in the reverse of the order the rows were sent.
    held = {}
    for n in reversed(range(20)):
        held[f"c{n}"] = _create_sandbox_profile(sandbox, external_id=f"c{n}")
        await asyncio.sleep(0.003)  # a new millisecond: profile ids sort by creation
    await _customers(conn, 20)
    report = await drain_profiles(make_drain())
    assert report.synced == 20 and [j["type"] for j in sandbox.jobs()] == [
        "profile-bulk-import-job"
    ]
    cur = await conn.execute("SELECT customer_id, klaviyo_profile_id FROM klaviyo.profile_state")
    assert dict(await cur.fetchall()) == held
    assert sandbox.stats()["profiles"] == 20


async def test_bulk_job_ids_left_unknown_when_they_cannot_be_read(
    conn, sandbox, make_drain
) -> None:
    await _customers(conn, 20)
    sandbox.set_fault("status", path_prefix="/api/profiles", method="GET", status=503)
    report = await drain_profiles(make_drain())
    assert report.synced == 20
    assert await one(conn, "SELECT count(klaviyo_profile_id) FROM klaviyo.profile_state") == 0

    # The next push of a profile answers its id.
    sandbox.clear_faults()
    await conn.execute("UPDATE core.customers SET first_name = 'Renamed' WHERE id = 'c3'")
    await drain_profiles(make_drain())
    profile_id = await one(
        conn, "SELECT klaviyo_profile_id FROM klaviyo.profile_state WHERE customer_id = 'c3'"
    )
    assert sandbox.profile(profile_id)["attributes"]["external_id"] == "c3"


async def test_a_row_the_bulk_job_refuses_fails_alone(conn, sandbox, make_drain) -> None:
    await _customers(conn, 20)
    long_id = "x" * 300  # Klaviyo caps external_id at 255 characters
    await create_customer(conn, customer_id=long_id, email="long@example.com")
    await drain_profiles(make_drain())
    assert await _statuses(conn) == {"synced": 20, "failed": 1}
    error = await one(conn, "SELECT last_error FROM klaviyo.profile_state WHERE status = 'failed'")
    assert "external_id" in error and f"customer {long_id}" in error


async def test_an_unparseable_phone_still_syncs_with_a_warning(conn, sandbox, make_drain) -> None:
    await create_customer(conn, customer_id="p1", email="p1@example.com", phone="call me maybe")
    await drain_profiles(make_drain())
    status, error, profile_id = await one(
        conn, "SELECT status, last_error, klaviyo_profile_id FROM klaviyo.profile_state"
    )
    assert status == "synced" and "phone 'call me maybe' is not a valid number" in error
    assert sandbox.profile(profile_id)["attributes"]["phone_number"] is None


async def test_consent_goes_through_subscription_jobs_only_when_it_changed(
    conn, sandbox, make_drain
) -> None:
    now = datetime.now(UTC)
    await create_customer(
        conn,
        customer_id="s1",
        email="s1@example.com",
        accepts_email_marketing=True,
        consent_updated_at=now,
    )
    await drain_profiles(make_drain())
    sandbox.wait_jobs_done()
    profile_id, pushed = await one(
        conn, "SELECT klaviyo_profile_id, pushed_consent FROM klaviyo.profile_state"
    )
    assert pushed == "subscribed"
    marketing = sandbox.profile(profile_id)["attributes"]["subscriptions"]
    assert marketing["email"]["marketing"]["consent"] == "SUBSCRIBED"

    await conn.execute("UPDATE core.customers SET first_name = 'Renamed' WHERE id = 's1'")
    report = await drain_profiles(make_drain())
    assert report.requests == 1  # the profile only: consent did not change

    await conn.execute(
        "UPDATE core.customers SET accepts_email_marketing = false, consent_updated_at = now() "
        "WHERE id = 's1'"
    )
    await drain_profiles(make_drain())
    sandbox.wait_jobs_done()
    assert await one(conn, "SELECT pushed_consent FROM klaviyo.profile_state") == "unsubscribed"
    marketing = sandbox.profile(profile_id)["attributes"]["subscriptions"]
    assert marketing["email"]["marketing"]["consent"] == "UNSUBSCRIBED"
    assert not [j for j in sandbox.jobs() if "list" in j["type"]]


def _create_sandbox_profile(sandbox, **attributes) -> str:
    response = sandbox.api.post(
        "/api/profiles", json={"data": {"type": "profile", "attributes": attributes}}
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


async def test_duplicate_profile_is_resolved_once_and_recorded(conn, sandbox, make_drain) -> None:
    by_email = _create_sandbox_profile(sandbox, email="d1@example.com")
    by_external_id = _create_sandbox_profile(sandbox, external_id="d1")
    await create_customer(conn, customer_id="d1", email="d1@example.com", first_name="Dee")
    report = await drain_profiles(make_drain())
    status, profile_id, error = await one(
        conn, "SELECT status, klaviyo_profile_id, last_error FROM klaviyo.profile_state"
    )
    assert status == "synced" and profile_id in (by_email, by_external_id)
    assert f"Klaviyo already had profile {profile_id}" in error
    assert sandbox.profile(profile_id)["attributes"]["first_name"] == "Dee"
    # One import, then at most three PATCHes: bounded, never a loop.
    assert report.requests <= 4
    assert _requests(sandbox).get("409", 0) <= 3


async def test_a_customer_gone_from_the_store_is_skipped(conn, sandbox, make_drain) -> None:
    await create_customer(conn, customer_id="g1", email="g1@example.com")
    await conn.execute("UPDATE core.customers SET deleted_at = now() WHERE id = 'g1'")
    await drain_profiles(make_drain())
    status, error = await one(conn, "SELECT status, last_error FROM klaviyo.profile_state")
    assert status == "skipped" and "deleted in the store" in error
    assert sandbox.stats()["profiles"] == 0


async def test_transient_failures_keep_profiles_pending_until_they_sync(
    conn, sandbox, make_drain
) -> None:
    await _customers(conn, 4)
    sandbox.set_fault("status", path_prefix="/api/profile-import", status=502, times=3)

    async def settled() -> bool:
        return (await _statuses(conn)).get("pending", 0) == 0

    await drain_until(lambda: drain_profiles(make_drain()), settled)
    assert await _statuses(conn) == {"synced": 4}


@pytest.mark.parametrize("count", [3, 30])  # profile-import, then a bulk import job
async def test_a_profile_klaviyo_no_longer_holds_is_imported_anew(
    conn, sandbox, make_drain, count
) -> None:
    await _customers(conn, count)
    await drain_profiles(make_drain())
    sandbox.reset()  # the profiles are deleted in Klaviyo; the store still knows their ids
    await conn.execute("UPDATE core.customers SET first_name = first_name || ' again'")

    report = await drain_profiles(make_drain())

    assert report.synced == count and await _statuses(conn) == {"synced": count}
    assert sandbox.stats()["profiles"] == count
    cur = await conn.execute(
        "SELECT customer_id, klaviyo_profile_id, last_error FROM klaviyo.profile_state"
    )
    for customer_id, profile_id, last_error in await cur.fetchall():
        assert sandbox.profile(profile_id)["attributes"]["external_id"] == customer_id
        assert "no longer had profile" in last_error
