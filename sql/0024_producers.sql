-- Producers of the transactional outbox: called inside the store's own transaction, so a rolled
-- back store write leaves no state row and no outbox row. Callable from any language.

-- The e-mail marketing consent of a customer in Klaviyo's words.
CREATE FUNCTION klaviyo.consent_status(accepts_email_marketing boolean,
                                       consent_updated_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN accepts_email_marketing THEN 'subscribed'
        WHEN consent_updated_at IS NOT NULL THEN 'unsubscribed'
        ELSE 'never_subscribed'
    END
$$;

-- Marks a customer's state row pending (creating it on first touch). change_seq is bumped so a
-- push already in flight, which read the older change_seq, leaves the row pending when it ends.
-- The lease is left alone: the in-flight push finishes, the next claim sends the new state.
-- Answers the state row id, or null when the module is off or the customer is unknown.
CREATE FUNCTION klaviyo.touch_customer(customer_id text) RETURNS uuid
LANGUAGE sql AS $$
    INSERT INTO klaviyo.profile_state AS s (customer_id, email, subscription_status)
    SELECT c.customer_id, c.email,
           klaviyo.consent_status(c.accepts_email_marketing, c.consent_updated_at)
    FROM klaviyo_source.customers c
    WHERE c.customer_id = touch_customer.customer_id
      AND klaviyo.module_enabled()
    ON CONFLICT ON CONSTRAINT profile_state_customer_id_key DO UPDATE
    SET change_seq = s.change_seq + 1,
        status = 'pending',
        attempts = 0,
        next_attempt_at = now(),
        last_error = NULL,
        email = EXCLUDED.email,
        -- 'suppressed' is Klaviyo's verdict (from webhooks); a store change does not lift it.
        subscription_status = CASE WHEN s.subscription_status = 'suppressed' THEN 'suppressed'
                                   ELSE EXCLUDED.subscription_status END,
        updated_at = now()
    RETURNING s.id
$$;

-- Records one immutable event. The idempotency key makes re-recording the same store fact a
-- no-op (answers null then, as with the module off). With no profile given, the profile is
-- {external_id: customer_id, email}. Backfill is forced on for events older than the
-- configured age at record time (history, bootstrap), whatever the caller passed.
CREATE FUNCTION klaviyo.record_event(
    idempotency_key text,
    metric_name text,
    customer_id text,
    email text,
    profile jsonb,
    properties jsonb,
    value_cents bigint,
    value_currency text,
    occurred_at timestamptz,
    backfill boolean DEFAULT NULL,
    unique_id text DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    frozen_profile jsonb;
    row_id uuid;
BEGIN
    IF NOT klaviyo.module_enabled() THEN
        RETURN NULL;
    END IF;
    IF coalesce(idempotency_key, '') = '' THEN
        RAISE EXCEPTION 'klaviyo.record_event: idempotency_key is required'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(metric_name, '') = '' THEN
        RAISE EXCEPTION 'klaviyo.record_event: metric_name is required (event %)', idempotency_key
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF occurred_at IS NULL THEN
        RAISE EXCEPTION 'klaviyo.record_event: occurred_at is required (event %)', idempotency_key
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF value_cents IS NOT NULL AND value_currency IS NULL THEN
        RAISE EXCEPTION 'klaviyo.record_event: value_cents needs value_currency (event %)',
            idempotency_key USING ERRCODE = 'invalid_parameter_value';
    END IF;

    frozen_profile := coalesce(profile, '{}'::jsonb)
        || jsonb_strip_nulls(jsonb_build_object('external_id', customer_id, 'email', email));
    IF NOT (frozen_profile ?| ARRAY['external_id', 'email', 'phone_number', 'id']) THEN
        RAISE EXCEPTION 'klaviyo.record_event: event % names no profile (customer_id, email or '
            'profile identifiers needed)', idempotency_key
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO klaviyo.event_outbox AS e
        (idempotency_key, metric_name, customer_id, email, profile, properties, value_cents,
         value_currency, occurred_at, backfill, unique_id)
    VALUES (idempotency_key, metric_name, customer_id, email, frozen_profile,
            coalesce(properties, '{}'::jsonb), value_cents, value_currency, occurred_at,
            coalesce(backfill, false) OR occurred_at < now() - klaviyo.backfill_age(),
            unique_id)
    ON CONFLICT ON CONSTRAINT event_outbox_idempotency_key_key DO NOTHING
    RETURNING e.id INTO row_id;
    RETURN row_id;
END
$$;

-- Marks every live customer pending in one set-based statement; running it again creates no
-- new rows (it bumps change_seq of the existing ones). Answers how many rows it enqueued.
CREATE FUNCTION klaviyo.bootstrap_profiles() RETURNS bigint
LANGUAGE sql AS $$
    WITH enqueued AS (
        INSERT INTO klaviyo.profile_state AS s (customer_id, email, subscription_status)
        SELECT c.customer_id, c.email,
               klaviyo.consent_status(c.accepts_email_marketing, c.consent_updated_at)
        FROM klaviyo_source.customers c
        WHERE c.deleted_at IS NULL
          AND klaviyo.module_enabled()
        ON CONFLICT ON CONSTRAINT profile_state_customer_id_key DO UPDATE
        SET change_seq = s.change_seq + 1,
            status = 'pending',
            attempts = 0,
            next_attempt_at = now(),
            last_error = NULL,
            email = EXCLUDED.email,
            subscription_status = CASE WHEN s.subscription_status = 'suppressed'
                                       THEN 'suppressed' ELSE EXCLUDED.subscription_status END,
            updated_at = now()
        RETURNING 1
    )
    SELECT count(*) FROM enqueued
$$;

-- One batch of customers as the drain pushes them: their state at push time, read in one query.
CREATE FUNCTION klaviyo.profile_source(customer_ids text[])
RETURNS SETOF klaviyo_source.customers
LANGUAGE sql STABLE AS $$
    SELECT c.* FROM klaviyo_source.customers c WHERE c.customer_id = ANY (customer_ids)
$$;
