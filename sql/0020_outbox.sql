-- Outbox of the profile and event surfaces: one state row per customer, one outbox row per event.
--
-- Drain bookkeeping is shared by every surface: `status`, `attempts`, `next_attempt_at` (when a
-- retry may go), a lease (`leased_by`, `lease_expires_at`) taken with FOR UPDATE SKIP LOCKED so
-- two workers never push the same row and a dead worker's rows come back after the lease.

CREATE TABLE klaviyo.profile_state (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id text NOT NULL UNIQUE,
    email text,
    klaviyo_profile_id text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'synced', 'failed', 'skipped')),
    subscription_status text NOT NULL DEFAULT 'never_subscribed'
        CHECK (subscription_status IN ('subscribed', 'unsubscribed', 'suppressed',
                                       'never_subscribed')),
    -- The consent last pushed to Klaviyo, so a push sends a consent job only when it changed.
    pushed_consent text,
    -- Bumped by every touch; a push marks the row synced only if no touch came in meanwhile.
    change_seq bigint NOT NULL DEFAULT 1,
    pushed_seq bigint NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_by text,
    lease_expires_at timestamptz,
    last_error text,
    last_synced_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX profile_state_drain_idx ON klaviyo.profile_state (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX profile_state_failed_idx ON klaviyo.profile_state (updated_at DESC, id)
    WHERE status = 'failed';
CREATE INDEX profile_state_updated_idx ON klaviyo.profile_state (updated_at DESC, id);
CREATE INDEX profile_state_email_idx ON klaviyo.profile_state (lower(email));
CREATE INDEX profile_state_klaviyo_id_idx ON klaviyo.profile_state (klaviyo_profile_id);

CREATE TABLE klaviyo.event_outbox (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Deterministic (order:<id>, order:<id>:line:<n>, checkout:<cart>:<version>): the same
    -- store fact always yields the same key, so re-recording it is a no-op and Klaviyo's
    -- unique_id dedups a re-send.
    idempotency_key text NOT NULL UNIQUE,
    metric_name text NOT NULL,
    customer_id text,
    email text,
    -- Profile identifiers and event properties, frozen when the event is recorded.
    profile jsonb NOT NULL DEFAULT '{}'::jsonb,
    properties jsonb NOT NULL DEFAULT '{}'::jsonb,
    value_cents bigint,
    value_currency text CHECK (value_currency IS NULL OR value_currency ~ '^[A-Z]{3}$'),
    occurred_at timestamptz NOT NULL,
    backfill boolean NOT NULL DEFAULT false,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_by text,
    lease_expires_at timestamptz,
    last_error text,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX event_outbox_drain_idx ON klaviyo.event_outbox (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX event_outbox_failed_idx ON klaviyo.event_outbox (enqueued_at DESC, id)
    WHERE status = 'failed';
CREATE INDEX event_outbox_sent_idx ON klaviyo.event_outbox (processed_at)
    WHERE status = 'sent';
