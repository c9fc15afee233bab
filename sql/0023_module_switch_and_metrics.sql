-- The module switch and the producer settings, readable from SQL, and the metric names.
--
-- The app writes `klaviyo.module` at start-up from KLAVIYO_MODULE_ENABLED and
-- KLAVIYO_BACKFILL_AGE_S, so triggers in any session see the same switch without a GUC.

CREATE TABLE klaviyo.module (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    enabled boolean NOT NULL DEFAULT true,
    -- Events older than this when recorded go out with backfill=true and trigger no flows.
    backfill_age_s integer NOT NULL DEFAULT 86400 CHECK (backfill_age_s >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO klaviyo.module (singleton) VALUES (true);

-- With the module off every producer and listener is a no-op: nothing is recorded.
CREATE FUNCTION klaviyo.module_enabled() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT enabled FROM klaviyo.module), true)
$$;

CREATE FUNCTION klaviyo.backfill_age() RETURNS interval
LANGUAGE sql STABLE AS $$
    SELECT make_interval(secs => coalesce((SELECT backfill_age_s FROM klaviyo.module), 86400))
$$;

-- The one place metric names live. Keys are the module's; names are what Klaviyo shows and
-- may be renamed here (app/klaviyo/metrics.py mirrors the keys and the defaults).
CREATE TABLE klaviyo.metric_names (
    metric_key text PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 127),
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO klaviyo.metric_names (metric_key, name) VALUES
    ('placed_order', 'Placed Order'),
    ('ordered_product', 'Ordered Product'),
    ('fulfilled_order', 'Fulfilled Order'),
    ('cancelled_order', 'Cancelled Order'),
    ('refunded_order', 'Refunded Order'),
    ('started_checkout', 'Started Checkout'),
    ('added_to_cart', 'Added to Cart'),
    ('viewed_product', 'Viewed Product');

CREATE FUNCTION klaviyo.metric_name(metric_key text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    found text;
BEGIN
    SELECT m.name INTO found FROM klaviyo.metric_names m WHERE m.metric_key = metric_name.metric_key;
    IF found IS NULL THEN
        RAISE EXCEPTION 'klaviyo.metric_name: no metric named by key %', metric_key
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN found;
END
$$;

-- Klaviyo dedups on (profile, metric, unique_id); status events of an order reuse the Placed
-- Order's unique_id while their outbox rows keep their own idempotency keys. Null means the
-- idempotency key is the unique_id.
ALTER TABLE klaviyo.event_outbox ADD COLUMN unique_id text;
