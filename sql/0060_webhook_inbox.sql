-- Inbound consent from Klaviyo: the webhook inbox, the consent columns of the profile state row
-- and the cursor of the polling fallback.
--
-- A delivery is answered as soon as its items are in the inbox; a procrastinate job applies
-- them afterwards. One row per `data[]` item, keyed by Klaviyo's external_id, so a redelivery
-- or a replayed request inserts nothing. Rows the polling fallback synthesises land here too,
-- with deterministic external ids, and go through the same apply step.

CREATE TABLE klaviyo.webhook_inbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id text NOT NULL UNIQUE,
    source text NOT NULL DEFAULT 'webhook' CHECK (source IN ('webhook', 'poll')),
    topic text NOT NULL,
    webhook_id text,
    -- When the change happened in Klaviyo (the event's own time), the order of application.
    event_at timestamptz NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    applied_at timestamptz,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'applied', 'ignored', 'failed')),
    -- What applying did: 'subscribed', 'stale', 'unknown_topic', 'no_customer', ...
    result text,
    customer_id text,
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);

CREATE INDEX webhook_inbox_pending_idx ON klaviyo.webhook_inbox (event_at, id)
    WHERE status = 'pending';
CREATE INDEX webhook_inbox_received_idx ON klaviyo.webhook_inbox (received_at DESC);

-- Consent lives in the store (klaviyo_source.customers); a suppression is Klaviyo's overlay on
-- top of it. Each dimension keeps the event time of the change that set it, so an older event
-- never overwrites a newer state whatever the arrival order.
ALTER TABLE klaviyo.profile_state
    ADD COLUMN suppression_reason text
        CHECK (suppression_reason IS NULL
               OR suppression_reason IN ('manually_suppressed', 'bounced', 'marked_as_spam')),
    ADD COLUMN consent_changed_at timestamptz,
    ADD COLUMN suppression_changed_at timestamptz;

-- Where the polling fallback resumes: profiles updated in Klaviyo after `updated_after`.
CREATE TABLE klaviyo.consent_poll_cursor (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    updated_after timestamptz NOT NULL,
    polled_at timestamptz NOT NULL DEFAULT now(),
    profiles_seen bigint NOT NULL DEFAULT 0
);
