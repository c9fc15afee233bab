-- Metric names survive a missing row: `klaviyo.metric_names` holds what an operator renamed,
-- and a key without a row answers its default, so no store write ever fails over a name.

CREATE FUNCTION klaviyo.default_metric_name(metric_key text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE metric_key
        WHEN 'placed_order' THEN 'Placed Order'
        WHEN 'ordered_product' THEN 'Ordered Product'
        WHEN 'fulfilled_order' THEN 'Fulfilled Order'
        WHEN 'cancelled_order' THEN 'Cancelled Order'
        WHEN 'refunded_order' THEN 'Refunded Order'
        WHEN 'started_checkout' THEN 'Started Checkout'
        WHEN 'added_to_cart' THEN 'Added to Cart'
        WHEN 'viewed_product' THEN 'Viewed Product'
    END
$$;

CREATE OR REPLACE FUNCTION klaviyo.metric_name(metric_key text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    found text;
BEGIN
    SELECT m.name INTO found FROM klaviyo.metric_names m WHERE m.metric_key = metric_name.metric_key;
    found := coalesce(found, klaviyo.default_metric_name(metric_key));
    IF found IS NULL THEN
        RAISE EXCEPTION 'klaviyo.metric_name: no metric named by key %', metric_key
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN found;
END
$$;
