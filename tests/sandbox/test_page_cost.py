"""What one page of a list read costs: the sandbox must hold a million rows and stay quick.

The sandbox app runs in-process here so the test can watch how much of the store a page read
touches: event pages read a slice, filtered pages stop once the page is full, and the `updated`
profile filter makes one pass instead of sorting every profile.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.sandbox.config import DEFAULT_API_KEY, SandboxConfig
from app.sandbox.server import create_sandbox_app
from app.sandbox.store import Account
from tests.sandbox import bodies

pytestmark = pytest.mark.asyncio
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {DEFAULT_API_KEY}",
    "revision": "2026-07-15",
    "Content-Type": "application/vnd.api+json",
    "Accept": "application/vnd.api+json",
}


class UnwalkedEvents(list):
    """The event log, refusing a walk from the start: only slices of it may be read."""

    def __iter__(self) -> Iterator[Any]:
        raise AssertionError("the whole event log was walked for one page")


class CountedEvents(list):
    """The event log, counting how many events a read pulled from it."""

    pulled = 0

    def __iter__(self) -> Iterator[Any]:
        for event in super().__iter__():
            CountedEvents.pulled += 1
            yield event


class CountedTime(float):
    """An `updated` time that counts how often it is compared."""

    comparisons = 0

    def _count(self) -> None:
        CountedTime.comparisons += 1

    def __lt__(self, other: Any) -> bool:
        self._count()
        return float(self) < float(other)

    def __gt__(self, other: Any) -> bool:
        self._count()
        return float(self) > float(other)

    def __eq__(self, other: Any) -> bool:
        self._count()
        return float(self) == float(other)

    __hash__ = float.__hash__


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_sandbox_app(SandboxConfig(rate_limits="off"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sandbox.test", headers=HEADERS
    ) as http:
        http.account = app.runtime.default_account()  # type: ignore[attr-defined]
        yield http


async def _events(client: httpx.AsyncClient, count: int) -> Account:
    for n in range(count):
        body = bodies.event("Viewed", {"email": f"p{n % 3}@example.com"}, unique_id=f"v{n}")
        assert (await client.post("/api/events", json=body)).status_code == 202
    return client.account  # type: ignore[attr-defined]


async def _all_pages(client: httpx.AsyncClient, url: str) -> list[str]:
    ids: list[str] = []
    while url:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [resource["id"] for resource in body["data"]]
        url = body["links"]["next"]
    return ids


async def test_an_unfiltered_event_page_reads_only_its_slice(client):
    account = await _events(client, 25)
    every_id = await _all_pages(client, "/api/events?page[size]=10")
    account.events = UnwalkedEvents(account.events)

    ids = await _all_pages(client, "/api/events?page[size]=10")

    assert ids == every_id and len(ids) == 25
    last = (await client.get("/api/events?page[size]=5")).json()
    assert len(last["data"]) == 5 and last["links"]["next"]


async def test_a_filtered_event_page_stops_when_it_is_full(client):
    account = await _events(client, 60)
    metric_id = next(iter(account.metrics.values())).id
    account.events = CountedEvents(account.events)
    CountedEvents.pulled = 0

    first = await client.get(f'/api/events?filter=equals(metric_id,"{metric_id}")&page[size]=10')

    assert first.status_code == 200
    assert len(first.json()["data"]) == 10 and first.json()["links"]["next"]
    assert CountedEvents.pulled == 11  # the page and one more, which says a next page exists
    profile_id = account.events[0].profile_id
    wanted = [e for e in list.__iter__(account.events) if e.profile_id == profile_id]
    ids = await _all_pages(
        client, f'/api/events?filter=equals(profile_id,"{profile_id}")&page[size]=7'
    )
    assert len(ids) == len(wanted) == 20


async def test_the_updated_filter_makes_one_pass_not_a_sort(client):
    account: Account = client.account
    size = 4000
    assert (await client.post("/__sandbox/seed", json={"profiles": size})).status_code == 200
    rng = random.Random(7)
    for profile in account.profiles.values():
        profile.updated = CountedTime(1_700_000_000 + rng.random() * 1_000_000)
    expected = sorted(account.profiles.values(), key=lambda p: (float(p.updated), p.id))
    CountedTime.comparisons = 0

    response = await client.get(
        "/api/profiles?filter=greater-than(updated,2000-01-01T00:00:00Z)&page[size]=10"
    )

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["data"]] == [p.id for p in expected[:10]]
    # A filter check per profile and about one comparison against the page's heap: a sort of
    # every profile would take over ten per profile.
    assert CountedTime.comparisons < 4 * size
    ids = await _all_pages(
        client, "/api/profiles?filter=less-than(updated,2100-01-01T00:00:00Z)&page[size]=100"
    )
    assert ids == [p.id for p in expected]
