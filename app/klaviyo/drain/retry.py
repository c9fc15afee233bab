"""Retry policy of the drain: what a failed push means for its rows, and when they go again.

429, 5xx, timeouts and transport errors are transient: the row goes back to pending after a
capped exponential backoff with full jitter (tenacity's `wait_random_exponential`), never sooner
than Klaviyo's Retry-After. Any other 4xx is the row's own fault and fails it at once with a
last_error an operator can act on. After `max_attempts` counted failures the row is failed.
A 429 is not counted: it says "later", not "wrong".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from tenacity import RetryCallState, wait_random_exponential

from app.klaviyo.client import KlaviyoApiError
from app.klaviyo.drain.claims import RetryDecision
from app.logs import redact_text

FailureKind = Literal["throttled", "transient", "rejected"]

# Longest last_error kept; Klaviyo's details are short, a payload dump is not wanted.
MAX_ERROR_CHARS = 1000


class PushFailure(msgspec.Struct, frozen=True, kw_only=True):
    """Why a request to Klaviyo did not succeed, in the terms an operator needs.

    `row_errors` holds every error object that points into the request body (each names one
    bad row); `duplicate_profile_id` is the profile a 409 duplicate_profile names.
    """

    kind: FailureKind
    status: int | None = None
    code: str | None = None
    detail: str | None = None
    pointer: str | None = None
    retry_after_s: float | None = None
    row_errors: tuple[PushFailure, ...] = ()
    duplicate_profile_id: str | None = None

    @property
    def retryable(self) -> bool:
        return self.kind != "rejected"


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    max_attempts: int = 8
    base_s: float = 2.0
    cap_s: float = 600.0

    def backoff_s(self, attempt: int) -> float:
        """Seconds before the next try after the `attempt`-th failure (1-based): uniform in
        [0, min(cap, base * 2^(attempt-1))]."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = max(1, attempt)
        return wait_random_exponential(multiplier=self.base_s, max=self.cap_s)(state)

    def decide(
        self,
        row_id: Any,
        attempts: int,
        failure: PushFailure,
        error: str,
        *,
        now: datetime | None = None,
        change_seq: int | None = None,
    ) -> RetryDecision:
        """The next step for a row that has failed `attempts` counted times before this one."""
        now = now or datetime.now(UTC)
        counts = failure.kind != "throttled"
        attempt = attempts + (1 if counts else 0)
        final = not failure.retryable or (counts and attempt >= self.max_attempts)
        delay = 0.0 if final else self.backoff_s(max(1, attempt))
        if failure.retry_after_s is not None:
            delay = max(delay, failure.retry_after_s)
        return RetryDecision(
            row_id, now + timedelta(seconds=delay), error, final, counts, change_seq
        )


def failure_from_api_error(error: KlaviyoApiError) -> PushFailure:
    """Classify Klaviyo's answer by status; keep every error object that points at a row."""
    status = error.status
    if status == 429:
        kind: FailureKind = "throttled"
    elif status >= 500 or status == 408:
        kind = "transient"
    else:
        kind = "rejected"
    row_errors = []
    duplicate_id = None
    for item in error.errors:
        raw_source, raw_meta = item.get("source"), item.get("meta")
        source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        if item.get("code") == "duplicate_profile" and meta.get("duplicate_profile_id"):
            duplicate_id = str(meta["duplicate_profile_id"])
        if source and source.get("pointer"):
            row_errors.append(
                PushFailure(
                    kind=kind,
                    status=status,
                    code=item.get("code"),
                    detail=redact_text(str(item.get("detail") or item.get("title") or "")),
                    pointer=source["pointer"],
                )
            )
    return PushFailure(
        kind=kind,
        status=status,
        code=error.code,
        detail=error.detail or error.title,
        pointer=error.pointer,
        retry_after_s=error.retry_after,
        row_errors=tuple(row_errors),
        duplicate_profile_id=duplicate_id,
    )


def failure_from_exception(exc: Exception) -> PushFailure:
    """Timeouts, resets and unreadable answers: the request may or may not have landed."""
    name = type(exc).__name__
    return PushFailure(kind="transient", code=name, detail=_short(str(exc)) or name)


def describe(surface: str, row_id: Any, failure: PushFailure, context: str = "") -> str:
    """`events row <id>: Klaviyo 400 invalid: <detail> (at <pointer>)`."""
    parts = [f"{surface} row {row_id}:"]
    if failure.status is not None:
        parts.append(f"Klaviyo {failure.status}")
    else:
        parts.append("no answer from Klaviyo")
    if failure.code:
        parts.append(f"{failure.code}:")
    if failure.detail:
        parts.append(failure.detail)
    if failure.pointer:
        parts.append(f"(at {failure.pointer})")
    if context:
        parts.append(f"[{context}]")
    return _short(" ".join(parts), MAX_ERROR_CHARS)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
