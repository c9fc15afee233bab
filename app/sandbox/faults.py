"""Fault injection: rules that make matching /api requests fail the ways Klaviyo can fail.

A rule (POST /__sandbox/faults) has:
  kind         "status" | "hang" | "reset" | "malformed" | "empty" | "throttle" | "stall_jobs"
               | "cancel_jobs"
  path_prefix  request paths it applies to, e.g. "/api/events" (default "/api")
  method       optional HTTP method filter ("POST")
  rate         probability 0..1 that a matching request is hit (default 1; seeded RNG)
  times        optional number of hits after which the rule retires
  duration_s   optional lifetime of the rule in seconds
  status       for "status": 500, 502 or 503 (default 503)
  hang_s       for "hang": seconds to hold the request before answering 504
  retry_after_s for "throttle": the Retry-After value (default 1)
"status" answers with the error and changes nothing; "hang" holds the request past the client's
timeout, then answers 504 and changes nothing; "reset" aborts the TCP connection with no response;
"malformed" processes the request and then corrupts the response body; "empty" answers 200 with
a well-formed document whose `data` is an empty list and changes nothing; "throttle" answers 429
storms; "stall_jobs" leaves bulk jobs created on matching paths in `processing` forever;
"cancel_jobs" ends them `cancelled` after `queued`, with none of their entries processed.
"""

from __future__ import annotations

import random
import time
from typing import Any

import msgspec

FAULT_KINDS = (
    "status",
    "hang",
    "reset",
    "malformed",
    "empty",
    "throttle",
    "stall_jobs",
    "cancel_jobs",
)


class FaultRule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: str
    path_prefix: str = "/api"
    method: str | None = None
    rate: float = 1.0
    times: int | None = None
    duration_s: float | None = None
    status: int = 503
    hang_s: float | None = None
    retry_after_s: int = 1
    id: int = 0
    hits: int = 0
    expires_at: float | None = None


class FaultRuleError(ValueError):
    """A fault rule that cannot be applied, with the reason."""


class FaultBook:
    """The active fault rules; the first live matching rule decides a request's fate."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        self.rules: list[FaultRule] = []
        self._rng = random.Random(self._seed)
        self._next_id = 1

    def add(self, raw: dict[str, Any]) -> FaultRule:
        try:
            rule = msgspec.convert(raw, FaultRule)
        except msgspec.ValidationError as exc:
            raise FaultRuleError(str(exc)) from None
        if rule.kind not in FAULT_KINDS:
            raise FaultRuleError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if rule.kind == "status" and rule.status not in (500, 502, 503):
            raise FaultRuleError("status must be 500, 502 or 503")
        if not rule.path_prefix.startswith("/api"):
            raise FaultRuleError("path_prefix must start with /api; the control surface is exempt")
        if not 0.0 <= rule.rate <= 1.0:
            raise FaultRuleError("rate must be between 0 and 1")
        rule.id = self._next_id
        self._next_id += 1
        if rule.method:
            rule.method = rule.method.upper()
        if rule.duration_s is not None:
            rule.expires_at = time.monotonic() + rule.duration_s
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) != before

    def match(
        self, method: str, path: str, kinds: tuple[str, ...] = FAULT_KINDS
    ) -> FaultRule | None:
        if not self.rules:
            return None
        now = time.monotonic()
        self.rules = [r for r in self.rules if r.expires_at is None or r.expires_at > now]
        for rule in self.rules:
            if rule.kind not in kinds or not path.startswith(rule.path_prefix):
                continue
            if rule.method and rule.method != method:
                continue
            if rule.times is not None and rule.hits >= rule.times:
                continue
            if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                continue
            rule.hits += 1
            return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        return [msgspec.to_builtins(rule) for rule in self.rules]
