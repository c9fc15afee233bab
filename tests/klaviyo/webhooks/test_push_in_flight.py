"""A consent change made in Klaviyo while a profile push is in flight is not undone by it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from app.klaviyo.drain.context import IMPORT_PROFILE
from app.klaviyo.drain.profiles import drain_profiles
from app.klaviyo.tasks import WorkerResources, open_drain
from tests.klaviyo.webhooks.helpers import consent_change, customer_with_profile
from tests.klaviyo.webhooks.records import state_of

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


class AfterProfileImport:
    """Klaviyo as the drain sees it, running `step` once right after the profile is imported:
    the push has read the store, its consent job is still to go."""

    def __init__(self, klaviyo: Any, step: Callable[[], Awaitable[None]]) -> None:
        self.klaviyo = klaviyo
        self.step: Callable[[], Awaitable[None]] | None = step

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.klaviyo.request(method, path, **kwargs)
        if path == IMPORT_PROFILE.path and self.step is not None:
            step, self.step = self.step, None
            await step()
        return response


def _consent_jobs(sandbox) -> list[str]:
    return [j["type"] for j in sandbox.jobs() if "subscription" in j["type"]]


def _email_consent(sandbox, profile_id: str) -> str:
    attributes = sandbox.profile(profile_id)["attributes"]
    return attributes["subscriptions"]["email"]["marketing"]["consent"]


async def test_an_unsubscribe_applied_mid_push_is_not_undone_by_the_push(
    webhook_setup, conn, db_pool, sandbox
):
    resources = WorkerResources(webhook_setup.server.config)
    customer, profile = await customer_with_profile(
        conn, sandbox, "zoe@example.com", True, LONG_AGO
    )

    async def shopper_unsubscribes_in_klaviyo() -> None:
        await consent_change(conn, db_pool, sandbox, profile, "unsubscribe")

    ctx = await open_drain(resources, db_pool, "profile")
    assert ctx is not None
    ctx.klaviyo = AfterProfileImport(ctx.klaviyo, shopper_unsubscribes_in_klaviyo)
    report = await drain_profiles(ctx)
    sandbox.wait_jobs_done()

    # The push read "subscribed" before the unsubscribe; its subscribe job is not sent. The
    # unsubscribe made the row pending again, so the same tick pushed it once more, with the
    # store as it is now: what Klaviyo already holds, so no consent job either.
    assert report.synced == 2
    assert _consent_jobs(sandbox) == []
    assert _email_consent(sandbox, profile) == "UNSUBSCRIBED"
    state = await state_of(conn, customer)
    assert (state["accepts_email_marketing"], state["pushed_consent"]) == (False, "unsubscribed")
    cur = await conn.execute(
        "SELECT status FROM klaviyo.profile_state WHERE customer_id = %s", (customer,)
    )
    assert (await cur.fetchone())[0] == "synced"
