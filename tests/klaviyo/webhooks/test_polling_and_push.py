"""The polling fallback against the sandbox, and consent surviving the next profile push."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from app.klaviyo.settings import set_setting
from app.klaviyo.tasks import WorkerResources, run_tick
from app.klaviyo.webhooks.apply import apply_pending
from app.klaviyo.webhooks.jobs import run_consent_poll
from app.store.customers import update_customer
from tests.klaviyo.webhooks.helpers import (
    consent_change,
    customer_with_profile,
    inbox_count,
    wait_for_inbox,
)
from tests.klaviyo.webhooks.records import state_of

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
# (e-mail, store consent at the start, what happens in Klaviyo)
SCENARIO = [
    ("a@example.com", True, ["unsubscribe"]),
    ("b@example.com", False, ["subscribe"]),
    ("c@example.com", True, ["spam"]),
    ("d@example.com", True, ["bounce"]),
    ("e@example.com", True, ["suppress", "unsuppress"]),
    ("f@example.com", False, ["subscribe", "suppress"]),
    ("g@example.com", True, []),
]


async def _mirror(conn, customers: dict[str, str]) -> dict[str, tuple]:
    states = {email: await state_of(conn, cid) for email, cid in customers.items()}
    return {
        email: (s["subscription_status"], s["suppression_reason"], s["accepts_email_marketing"])
        for email, s in states.items()
    }


async def _reset_mirror(conn) -> None:
    """Back to before Klaviyo's changes: store consent as it started, no inbox, no overlay."""
    await conn.execute("TRUNCATE klaviyo.webhook_inbox")
    for email, subscribed, _ in SCENARIO:
        await conn.execute(
            "UPDATE core.customers SET accepts_email_marketing = %s, consent_updated_at = %s "
            "WHERE email = %s",
            (subscribed, LONG_AGO, email),
        )
    await conn.execute(
        """
        UPDATE klaviyo.profile_state
        SET suppression_reason = NULL, suppression_changed_at = NULL, consent_changed_at = NULL,
            subscription_status = CASE WHEN c.accepts_email_marketing THEN 'subscribed'
                                       ELSE 'unsubscribed' END
        FROM core.customers c WHERE c.id = profile_state.customer_id
        """
    )


async def test_polling_converges_to_the_state_the_webhooks_give(
    webhook_setup, conn, db_pool, sandbox
):
    customers, profiles = {}, {}
    for email, subscribed, _ in SCENARIO:
        customers[email], profiles[email] = await customer_with_profile(
            conn, sandbox, email, subscribed, LONG_AGO
        )
    for email, _, actions in SCENARIO:
        for action in actions:
            await consent_change(conn, db_pool, sandbox, profiles[email], action)
    by_webhooks = await _mirror(conn, customers)
    assert by_webhooks["c@example.com"] == ("suppressed", "marked_as_spam", True)

    await _reset_mirror(conn)
    assert await _mirror(conn, customers) != by_webhooks
    config = webhook_setup.server.config
    cipher = webhook_setup.server.cipher()
    async with httpx.AsyncClient(timeout=10) as http:
        # Off by default: nothing is read from Klaviyo.
        assert await run_consent_poll(config, db_pool, http, cipher) is None
        await set_setting(conn, "consent_polling_enabled", True)
        report = await run_consent_poll(config, db_pool, http, cipher)
        assert report is not None and report.complete
        assert report.profiles == len(SCENARIO)
        assert await _mirror(conn, customers) == by_webhooks

        # The next pass re-reads the overlap and finds nothing new.
        again = await run_consent_poll(config, db_pool, http, cipher)
        assert again is not None and again.new_rows == 0
    cur = await conn.execute("SELECT count(*) FROM klaviyo.webhook_inbox WHERE source = 'poll'")
    assert (await cur.fetchone())[0] == report.new_rows == len(SCENARIO)


async def test_polling_with_small_pages_follows_the_cursor(webhook_setup, conn, db_pool, sandbox):
    from msgspec import structs

    customers = {}
    for i in range(5):
        email = f"p{i}@example.com"
        customers[email], profile = await customer_with_profile(conn, sandbox, email, True)
        sandbox.consent(profile, "unsubscribe")
    sandbox.wait_for(lambda: len(sandbox.deliveries()) == 5)
    await conn.execute("DELETE FROM klaviyo.webhook_inbox")
    await set_setting(conn, "consent_polling_enabled", True)
    config = structs.replace(webhook_setup.server.config, consent_poll_page_size=2)
    async with httpx.AsyncClient(timeout=10) as http:
        report = await run_consent_poll(config, db_pool, http, webhook_setup.server.cipher())
    assert (report.pages, report.profiles, report.complete) == (3, 5, True)
    assert {s[0] for s in (await _mirror(conn, customers)).values()} == {"unsubscribed"}


def _consent_jobs(sandbox) -> list[str]:
    return [j["type"] for j in sandbox.jobs() if "subscription" in j["type"]]


def _email_marketing(sandbox, profile_id: str) -> dict:
    return sandbox.profile(profile_id)["attributes"]["subscriptions"]["email"]["marketing"]


async def test_a_consent_change_in_klaviyo_survives_the_next_profile_push(
    webhook_setup, conn, db_pool, sandbox
):
    resources = WorkerResources(webhook_setup.server.config)
    unsubscriber, _ = await customer_with_profile(conn, sandbox, "zoe@example.com", True, LONG_AGO)
    complainer, _ = await customer_with_profile(conn, sandbox, "max@example.com", True, LONG_AGO)
    await run_tick(resources, db_pool, "profile")
    sandbox.wait_jobs_done()
    assert _consent_jobs(sandbox) == ["profile-subscription-bulk-create-job"]
    zoe = sandbox.find_profile(email="zoe@example.com")["id"]
    max_ = sandbox.find_profile(email="max@example.com")["id"]
    assert _email_marketing(sandbox, zoe)["consent"] == "SUBSCRIBED"

    # In Klaviyo: Zoe unsubscribes, Max marks a mail as spam.
    await consent_change(conn, db_pool, sandbox, zoe, "unsubscribe")
    await consent_change(conn, db_pool, sandbox, max_, "spam")
    assert (await state_of(conn, unsubscriber))["pushed_consent"] == "unsubscribed"

    # Klaviyo confirmed our own subscribe job with webhooks too; applying them changed nothing.
    assert [d["topic"].split(".")[-1] for d in sandbox.deliveries()] == [
        "subscribed_to_email_marketing",
        "subscribed_to_email_marketing",
        "unsubscribed_from_email_marketing",
        "marked_email_as_spam",
    ]

    # Both profiles go out again (Zoe's consent changed in the store; Max gets a new name).
    await update_customer(conn, complainer, first_name="Max")
    await run_tick(resources, db_pool, "profile")
    sandbox.wait_jobs_done()

    assert _consent_jobs(sandbox) == ["profile-subscription-bulk-create-job"]
    assert _email_marketing(sandbox, zoe)["consent"] == "UNSUBSCRIBED"
    spam = _email_marketing(sandbox, max_)
    assert "SPAM_COMPLAINT" in {s["reason"] for s in spam["suppression"]}
    assert sandbox.profile(max_)["attributes"]["first_name"] == "Max"
    cur = await conn.execute("SELECT status FROM klaviyo.profile_state ORDER BY email")
    assert [r[0] for r in await cur.fetchall()] == ["synced", "synced"]
    # No delivery came back from the second push: it changed no consent in Klaviyo.
    assert len(sandbox.deliveries()) == 4
    assert await inbox_count(conn) == 4


async def test_sandbox_registration_wires_the_webhook(webhook_setup, conn, db_pool, sandbox):
    listed = sandbox.api.get("/api/webhooks").json()["data"]
    assert [w["attributes"]["endpoint_url"] for w in listed] == [webhook_setup.server.webhook_url]
    customer, profile = await customer_with_profile(conn, sandbox, "zoe@example.com")
    sandbox.consent(profile, "subscribe")
    await wait_for_inbox(conn, 1)
    await apply_pending(db_pool)
    assert (await state_of(conn, customer))["subscription_status"] == "subscribed"
    cur = await conn.execute("SELECT webhook_secret_encrypted FROM klaviyo.settings")
    stored = (await cur.fetchone())[0]
    assert webhook_setup.secret.encode() not in bytes(stored)
