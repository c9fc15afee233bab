"""What one drain tick works with, and the budgeted request every push goes through."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
import msgspec
import structlog
from psycopg_pool import AsyncConnectionPool

from app.klaviyo.client import KlaviyoApiError
from app.klaviyo.drain.retry import (
    PushFailure,
    RetryPolicy,
    failure_from_api_error,
    failure_from_exception,
)
from app.klaviyo.rate_budget import KlaviyoRateBudget

log = structlog.get_logger(__name__)


class KlaviyoTransport(Protocol):
    """The part of `app.klaviyo.client.KlaviyoClient` the drain uses."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response: ...


class Endpoint(msgspec.Struct, frozen=True):
    """A Klaviyo endpoint as the rate budget knows it: its tier and its operation name."""

    method: str
    path: str
    tier: str
    operation: str


CREATE_EVENT = Endpoint("POST", "/api/events", "XL", "create_event")
BULK_CREATE_EVENTS = Endpoint("POST", "/api/event-bulk-create-jobs", "M", "bulk_create_events")
IMPORT_PROFILE = Endpoint("POST", "/api/profile-import", "L", "create_or_update_profile")
UPDATE_PROFILE = Endpoint("PATCH", "/api/profiles/{id}", "L", "update_profile")
BULK_IMPORT_PROFILES = Endpoint(
    "POST", "/api/profile-bulk-import-jobs", "M", "bulk_import_profiles"
)
GET_IMPORT_JOB = Endpoint(
    "GET", "/api/profile-bulk-import-jobs/{id}", "M", "get_bulk_import_profiles_job"
)
GET_IMPORT_ERRORS = Endpoint(
    "GET",
    "/api/profile-bulk-import-jobs/{id}/import-errors",
    "M",
    "get_errors_for_bulk_import_profiles_job",
)
GET_IMPORT_PROFILE_IDS = Endpoint(
    "GET",
    "/api/profile-bulk-import-jobs/{id}/relationships/profiles",
    "M",
    "get_profile_ids_for_bulk_import_profiles_job",
)
GET_PROFILES = Endpoint("GET", "/api/profiles", "L", "get_profiles")
SUBSCRIBE_PROFILES = Endpoint(
    "POST", "/api/profile-subscription-bulk-create-jobs", "L", "bulk_subscribe_profiles"
)
UNSUBSCRIBE_PROFILES = Endpoint(
    "POST", "/api/profile-subscription-bulk-delete-jobs", "L", "bulk_unsubscribe_profiles"
)


class DrainStopped(Exception):
    """The tick must stop pushing: what is still claimed is released for a later tick."""


class BudgetExhausted(DrainStopped):
    """The rate budget cannot admit the request before the tick's time slice ends."""


class AccountRefused(DrainStopped):
    """Klaviyo refused the API key (401/403): no row is at fault, none may fail for it."""


class DrainContext:
    """One tick's means: the database, Klaviyo, the shared rate budget and the rules."""

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool,
        klaviyo: KlaviyoTransport,
        budget: KlaviyoRateBudget,
        account_id: str,
        policy: RetryPolicy,
        worker: str,
        batch_size: int,
        lease_s: float,
        deadline: float,
    ) -> None:
        self.pool = pool
        self.klaviyo = klaviyo
        self.budget = budget
        self.account_id = account_id
        self.policy = policy
        self.worker = worker
        self.batch_size = batch_size
        self.lease_s = lease_s
        # Monotonic time at which the tick stops starting new work.
        self.deadline = deadline
        self.requests = 0
        self.throttled = 0

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    async def budget_allows(self, endpoint: Endpoint) -> bool:
        """Whether the rate budget could admit `endpoint` before the slice ends; a drain asks
        before claiming, so a throttled account does not churn leases."""
        wait_s = await self.budget.ready_in(
            self.account_id, endpoint.tier, operation=endpoint.operation
        )
        return wait_s < self.time_left()

    async def send(
        self,
        endpoint: Endpoint,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        path_id: str | None = None,
    ) -> httpx.Response | PushFailure:
        """Reserve a request in the rate budget, send it, feed the answer back. Answers the
        2xx response, or the failure: Klaviyo's refusal, or no usable answer at all (timeout,
        reset, garbage)."""
        # Never past the slice: a claimed row's lease must outlive the wait.
        admitted = await self.budget.wait_for(
            self.account_id, endpoint.tier, operation=endpoint.operation, deadline=self.deadline
        )
        if not admitted:
            raise BudgetExhausted(endpoint.operation)
        path = endpoint.path.replace("{id}", path_id) if path_id else endpoint.path
        started = time.monotonic()
        self.requests += 1
        try:
            response = await self.klaviyo.request(endpoint.method, path, json=body, params=params)
        except KlaviyoApiError as error:
            failure = failure_from_api_error(error)
            if failure.kind == "throttled":
                self.throttled += 1
                await self.budget.penalize(
                    self.account_id,
                    endpoint.tier,
                    failure.retry_after_s if failure.retry_after_s is not None else 1.0,
                    operation=endpoint.operation,
                )
            return failure
        except (httpx.HTTPError, OSError) as exc:
            log.info(
                "klaviyo_request_failed",
                operation=endpoint.operation,
                error=type(exc).__name__,
                duration_ms=round((time.monotonic() - started) * 1000, 1),
            )
            return failure_from_exception(exc)
        await self.budget.observe(
            self.account_id, endpoint.tier, response.headers, operation=endpoint.operation
        )
        return response

    async def send_json(
        self,
        endpoint: Endpoint,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        path_id: str | None = None,
    ) -> Any:
        """`send`, with the 2xx answer's JSON document decoded (a body that is not JSON is a
        transient failure: the request may have landed, the answer is lost)."""
        answer = await self.send(endpoint, body=body, params=params, path_id=path_id)
        if isinstance(answer, PushFailure):
            return answer
        try:
            return msgspec.json.decode(answer.content) if answer.content else {}
        except msgspec.DecodeError:
            return PushFailure(
                kind="transient",
                status=answer.status_code,
                code="unreadable_answer",
                detail=f"{endpoint.operation} answered {answer.status_code} with a body that is "
                "not JSON",
            )
