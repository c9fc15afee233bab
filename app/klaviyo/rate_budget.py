"""The rate budget: Klaviyo's per-account request windows, kept in Postgres for every worker."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Mapping

import msgspec
import structlog
from psycopg_pool import AsyncConnectionPool

log = structlog.get_logger(__name__)


class RateTier(msgspec.Struct, frozen=True):
    """One of Klaviyo's published limits: requests per burst second and per steady minute."""

    name: str
    burst: int
    steady: int


TIERS: dict[str, RateTier] = {
    "XS": RateTier("XS", 1, 15),
    "S": RateTier("S", 3, 60),
    "M": RateTier("M", 10, 150),
    "L": RateTier("L", 75, 750),
    "XL": RateTier("XL", 350, 3500),
}


# What one second may reserve: half the burst, or the steady rate's share of a second half again
# where that is more (so a minute still fills when seconds go unused), never above the burst.
# Requests bunched at the full burst overflow Klaviyo's next second when a few reach it late (a
# busy event loop, a slow upload); at half the burst, a late second fits beside the next one.
# That holds for the M, L and XL tiers; XS and S are too narrow to halve and fill a minute.
# `cost` is the floor, so a reservation larger than the pace still goes, alone in its second.
def _second_cap(cost: str) -> str:
    pace = "greatest(ceil(b.steady_limit * 1.5 / 60.0), floor(b.burst_limit / 2.0))"
    return f"greatest({cost}, least(b.burst_limit, {pace})::int)"


# Reserve `cost` requests in both windows at once, or nothing. A window that has rolled over
# counts from zero. Near a window's end nothing is reserved: the request could reach Klaviyo
# in its next window, which we would not have counted (the guards). When nothing was reserved,
# the second part answers how long until a request could go, from the row as it stood.
ACQUIRE_SQL = f"""
    WITH clock AS (
        SELECT extract(epoch FROM clock_timestamp())::float8 AS t
    ),
    open_clock AS (
        SELECT t FROM clock
        WHERE t - floor(t) <= 1 - %(burst_guard)s
          AND t - floor(t / 60) * 60 <= 60 - %(steady_guard)s
    ),
    reserved AS (
        INSERT INTO klaviyo.rate_budget AS b
            (account_id, tier, operation, burst_limit, steady_limit,
             second_window, second_used, minute_window, minute_used)
        SELECT %(account)s, %(tier)s, %(operation)s, %(burst)s, %(steady)s,
               floor(t)::bigint, %(cost)s, floor(t / 60)::bigint, %(cost)s
        FROM open_clock
        ON CONFLICT (account_id, tier, operation) DO UPDATE
        SET second_window = EXCLUDED.second_window,
            second_used = CASE WHEN b.second_window = EXCLUDED.second_window
                               THEN b.second_used ELSE 0 END + %(cost)s,
            minute_window = EXCLUDED.minute_window,
            minute_used = CASE WHEN b.minute_window = EXCLUDED.minute_window
                               THEN b.minute_used ELSE 0 END + %(cost)s,
            updated_at = now()
        WHERE (b.blocked_until IS NULL OR b.blocked_until <= clock_timestamp())
          AND CASE WHEN b.second_window = EXCLUDED.second_window
                   THEN b.second_used ELSE 0 END + %(cost)s <= {_second_cap("%(cost)s")}
          AND CASE WHEN b.minute_window = EXCLUDED.minute_window
                   THEN b.minute_used ELSE 0 END + %(cost)s <= b.steady_limit
        RETURNING 0::float8 AS wait_s
    )
    SELECT wait_s FROM reserved
    UNION ALL
    SELECT greatest(
               CASE WHEN c.t - floor(c.t) > 1 - %(burst_guard)s
                    THEN floor(c.t) + 1 - c.t ELSE 0 END,
               CASE WHEN c.t - floor(c.t / 60) * 60 > 60 - %(steady_guard)s
                    THEN (floor(c.t / 60) + 1) * 60 - c.t ELSE 0 END,
               coalesce(extract(epoch FROM b.blocked_until)::float8 - c.t, 0),
               CASE WHEN b.minute_window = floor(c.t / 60)
                         AND b.minute_used + %(cost)s > b.steady_limit
                    THEN (b.minute_window + 1) * 60 - c.t ELSE 0 END,
               CASE WHEN b.second_window = floor(c.t)
                         AND b.second_used + %(cost)s > {_second_cap("%(cost)s")}
                    THEN b.second_window + 1 - c.t ELSE 0 END,
               0.005)
    FROM clock c
    LEFT JOIN klaviyo.rate_budget b
           ON b.account_id = %(account)s AND b.tier = %(tier)s AND b.operation = %(operation)s
    WHERE NOT EXISTS (SELECT 1 FROM reserved)
"""

# How long until one request could be reserved, reserving nothing (a drain asks before it
# claims rows it could not send): the same guards and windows as a reservation.
READY_IN_SQL = f"""
    WITH clock AS (
        SELECT extract(epoch FROM clock_timestamp())::float8 AS t
    )
    SELECT greatest(
               CASE WHEN c.t - floor(c.t) > 1 - %(burst_guard)s
                    THEN floor(c.t) + 1 - c.t ELSE 0 END,
               CASE WHEN c.t - floor(c.t / 60) * 60 > 60 - %(steady_guard)s
                    THEN (floor(c.t / 60) + 1) * 60 - c.t ELSE 0 END,
               coalesce(extract(epoch FROM b.blocked_until)::float8 - c.t, 0),
               CASE WHEN b.minute_window = floor(c.t / 60) AND b.minute_used >= b.steady_limit
                    THEN (b.minute_window + 1) * 60 - c.t ELSE 0 END,
               CASE WHEN b.second_window = floor(c.t)
                         AND b.second_used >= {_second_cap("1")}
                    THEN b.second_window + 1 - c.t ELSE 0 END)
    FROM clock c
    LEFT JOIN klaviyo.rate_budget b
           ON b.account_id = %(account)s AND b.tier = %(tier)s AND b.operation = %(operation)s
"""

# Klaviyo's view of the steady window, from a response's RateLimit-* headers: limits it
# announces replace ours; what it says is left is never more than we think is left; none left
# blocks every worker until its reset. Written only when it changes something.
OBSERVE_SQL = """
    UPDATE klaviyo.rate_budget AS b
    SET burst_limit = coalesce(%(burst)s, b.burst_limit),
        steady_limit = coalesce(%(steady)s, b.steady_limit),
        minute_used = CASE WHEN %(used)s::int IS NOT NULL AND %(same_window)s
                           THEN greatest(b.minute_used, %(used)s) ELSE b.minute_used END,
        blocked_until = CASE WHEN %(block_s)s::float8 IS NOT NULL
                             THEN greatest(coalesce(b.blocked_until, clock_timestamp()),
                                           clock_timestamp()
                                           + make_interval(secs => %(block_s)s))
                             ELSE b.blocked_until END,
        updated_at = now()
    WHERE b.account_id = %(account)s AND b.tier = %(tier)s AND b.operation = %(operation)s
      AND (b.burst_limit IS DISTINCT FROM coalesce(%(burst)s, b.burst_limit)
           OR b.steady_limit IS DISTINCT FROM coalesce(%(steady)s, b.steady_limit)
           OR (%(used)s::int IS NOT NULL AND %(same_window)s AND b.minute_used < %(used)s)
           OR %(block_s)s::float8 IS NOT NULL)
"""

# A 429 holds the tier back for every worker until Klaviyo's Retry-After has passed.
PENALIZE_SQL = """
    INSERT INTO klaviyo.rate_budget AS b
        (account_id, tier, operation, burst_limit, steady_limit, blocked_until, throttled_count)
    VALUES (%(account)s, %(tier)s, %(operation)s, %(burst)s, %(steady)s,
            clock_timestamp() + make_interval(secs => %(retry_after)s), 1)
    ON CONFLICT (account_id, tier, operation) DO UPDATE
    SET blocked_until = greatest(coalesce(b.blocked_until, EXCLUDED.blocked_until),
                                 EXCLUDED.blocked_until),
        throttled_count = b.throttled_count + 1,
        updated_at = now()
"""

# Seconds before a window's end in which nothing is reserved: the time a reserved request may
# take to reach Klaviyo (the event loop can be busy building a 1000-event body meanwhile).
BURST_GUARD_S = 0.25
STEADY_GUARD_S = 2.0

_WINDOWED = re.compile(r"^\s*(\d+)\s*;\s*w\s*=\s*(\d+)\s*$")


class RateLimitHeaders(msgspec.Struct, frozen=True):
    """What Klaviyo says about the steady window in a non-429 response."""

    burst: int | None
    steady: int | None
    remaining: int | None
    reset_s: int | None


def parse_rate_limit_headers(headers: Mapping[str, str]) -> RateLimitHeaders | None:
    """`RateLimit-Limit: 150, 10;w=1, 150;w=60`, `RateLimit-Remaining`, `RateLimit-Reset`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "ratelimit-remaining" not in lowered and "ratelimit-limit" not in lowered:
        return None
    burst = steady = None
    for part in lowered.get("ratelimit-limit", "").split(","):
        match = _WINDOWED.match(part)
        if match and match.group(2) == "1":
            burst = int(match.group(1))
        elif match and match.group(2) == "60":
            steady = int(match.group(1))
    return RateLimitHeaders(
        burst,
        steady,
        _int(lowered.get("ratelimit-remaining")),
        _int(lowered.get("ratelimit-reset")),
    )


def _int(raw: str | None) -> int | None:
    try:
        return int(raw.strip()) if raw is not None else None
    except ValueError:
        return None


class KlaviyoRateBudget:
    """Reserves requests against Klaviyo's windows before they are sent; shared via Postgres.

    `enabled=False` answers every reservation at once (a sandbox with its limits off).
    """

    def __init__(self, pool: AsyncConnectionPool, *, enabled: bool = True) -> None:
        self.pool = pool
        self.enabled = enabled

    async def acquire(
        self, account: str, tier: str, cost: int = 1, *, operation: str = ""
    ) -> float:
        """Reserve `cost` requests now: answers 0.0 when reserved, else seconds to wait before
        asking again (nothing reserved)."""
        if not self.enabled:
            return 0.0
        limits = TIERS[tier]
        if not 1 <= cost <= limits.burst:
            raise ValueError(f"cost {cost} does not fit tier {tier} (burst {limits.burst}/s)")
        params = {
            "account": account,
            "tier": tier,
            "operation": operation,
            "burst": limits.burst,
            "steady": limits.steady,
            "cost": cost,
            "burst_guard": BURST_GUARD_S,
            "steady_guard": STEADY_GUARD_S,
        }
        async with self.pool.connection() as conn:
            cur = await conn.execute(ACQUIRE_SQL, params)
            row = await cur.fetchone()
        return float(row[0]) if row else 0.0

    async def ready_in(self, account: str, tier: str, *, operation: str = "") -> float:
        """Seconds until one request of the tier could go; reserves nothing."""
        if not self.enabled:
            return 0.0
        params = {
            "account": account,
            "tier": tier,
            "operation": operation,
            "burst_guard": BURST_GUARD_S,
            "steady_guard": STEADY_GUARD_S,
        }
        async with self.pool.connection() as conn:
            cur = await conn.execute(READY_IN_SQL, params)
            row = await cur.fetchone()
        return max(0.0, float(row[0])) if row else 0.0

    async def wait_for(
        self,
        account: str,
        tier: str,
        cost: int = 1,
        *,
        operation: str = "",
        deadline: float | None = None,
    ) -> bool:
        """Reserve, sleeping as the budget says; False when `deadline` (monotonic) comes
        first, with nothing reserved."""
        while True:
            wait_s = await self.acquire(account, tier, cost, operation=operation)
            if wait_s <= 0:
                return True
            if deadline is not None and time.monotonic() + wait_s > deadline:
                return False
            await asyncio.sleep(wait_s)

    async def observe(
        self, account: str, tier: str, headers: Mapping[str, str], *, operation: str = ""
    ) -> None:
        """Feed back a successful response's RateLimit-* headers."""
        if not self.enabled:
            return
        seen = parse_rate_limit_headers(headers)
        if seen is None:
            return
        steady = seen.steady or TIERS[tier].steady
        used = steady - seen.remaining if seen.remaining is not None else None
        now = time.time()
        # Klaviyo's window ends `reset_s` from now; only when that is our window's end too
        # does its count apply to ours (a late answer from the previous minute must not fill
        # the new one).
        same_window = (
            seen.reset_s is not None
            and abs((math.floor(now / 60) + 1) * 60 - (now + seen.reset_s)) <= 1.5
        )
        block_s = float(seen.reset_s) if seen.remaining == 0 and seen.reset_s else None
        params = {
            "account": account,
            "tier": tier,
            "operation": operation,
            "burst": seen.burst,
            "steady": seen.steady,
            "used": used,
            "same_window": same_window,
            "block_s": block_s,
        }
        async with self.pool.connection() as conn:
            await conn.execute(OBSERVE_SQL, params)

    async def penalize(
        self, account: str, tier: str, retry_after_s: float, *, operation: str = ""
    ) -> None:
        """A 429 came back: block the tier for every worker until Retry-After has passed."""
        limits = TIERS[tier]
        retry_after_s = max(0.0, float(retry_after_s))
        log.info(
            "rate_budget_throttled", tier=tier, operation=operation, retry_after_s=retry_after_s
        )
        if not self.enabled:
            return
        params = {
            "account": account,
            "tier": tier,
            "operation": operation,
            "burst": limits.burst,
            "steady": limits.steady,
            "retry_after": retry_after_s,
        }
        async with self.pool.connection() as conn:
            await conn.execute(PENALIZE_SQL, params)
