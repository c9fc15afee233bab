-- The rate budget: one row per (Klaviyo account, tier, operation) shared by every worker process.
--
-- Klaviyo counts requests per account and endpoint in two fixed windows, a burst second and a
-- steady minute. The drain reserves a request here before sending it (one conditional upsert), so
-- all workers together stay inside the same windows Klaviyo enforces. `blocked_until` holds off
-- every worker after a 429's Retry-After or a RateLimit-Remaining of 0.

CREATE TABLE klaviyo.rate_budget (
    account_id text NOT NULL,
    tier text NOT NULL CHECK (tier IN ('XS', 'S', 'M', 'L', 'XL')),
    -- The endpoint (Klaviyo's operation name) the window belongs to; '' shares one per tier.
    operation text NOT NULL DEFAULT '',
    burst_limit integer NOT NULL CHECK (burst_limit > 0),
    steady_limit integer NOT NULL CHECK (steady_limit > 0),
    -- Epoch second and epoch minute of the current windows, and what was reserved in each.
    second_window bigint NOT NULL DEFAULT 0,
    second_used integer NOT NULL DEFAULT 0,
    minute_window bigint NOT NULL DEFAULT 0,
    minute_used integer NOT NULL DEFAULT 0,
    blocked_until timestamptz,
    throttled_count bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, tier, operation)
);
