-- The outbox's share of a store transaction, made cheaper; what is recorded does not change.
--
-- touch_customer: a customer already known to the profile surface (the common case: every
-- order touches its customer) takes a plain UPDATE of its state row, which skips speculative
-- insertion and the row-count trigger of profile_state inserts (0031); only a first touch
-- inserts, with the same INSERT … ON CONFLICT as before, so two first touches still meet on the
-- unique key and one of them updates.
CREATE OR REPLACE FUNCTION klaviyo.touch_customer(customer_id text) RETURNS uuid
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    row_id uuid;
BEGIN
    IF NOT klaviyo.module_enabled() THEN
        RETURN NULL;
    END IF;
    UPDATE klaviyo.profile_state AS s
    SET change_seq = s.change_seq + 1,
        status = 'pending',
        attempts = 0,
        next_attempt_at = now(),
        last_error = NULL,
        email = c.email,
        -- 'suppressed' is Klaviyo's verdict (from webhooks); a store change does not lift it.
        subscription_status = CASE WHEN s.subscription_status = 'suppressed' THEN 'suppressed'
                                   ELSE klaviyo.consent_status(c.accepts_email_marketing,
                                                               c.consent_updated_at) END,
        updated_at = now()
    FROM klaviyo_source.customers c
    WHERE s.customer_id = customer_id AND c.customer_id = customer_id
    RETURNING s.id INTO row_id;
    IF FOUND THEN
        RETURN row_id;
    END IF;
    INSERT INTO klaviyo.profile_state AS s (customer_id, email, subscription_status)
    SELECT c.customer_id, c.email,
           klaviyo.consent_status(c.accepts_email_marketing, c.consent_updated_at)
    FROM klaviyo_source.customers c
    WHERE c.customer_id = customer_id
    ON CONFLICT ON CONSTRAINT profile_state_customer_id_key DO UPDATE
    SET change_seq = s.change_seq + 1,
        status = 'pending',
        attempts = 0,
        next_attempt_at = now(),
        last_error = NULL,
        email = EXCLUDED.email,
        subscription_status = CASE WHEN s.subscription_status = 'suppressed' THEN 'suppressed'
                                   ELSE EXCLUDED.subscription_status END,
        updated_at = now()
    RETURNING s.id INTO row_id;
    RETURN row_id;
END
$$;

-- record_order_events (0028), same rows: the switch, the backfill bound and the two metric
-- names of every order are read once per call rather than once per row, and the Placed Order's
-- scalar fields are stripped of nulls before its Items (already stripped per item) join them.
CREATE OR REPLACE FUNCTION klaviyo.record_order_events(order_id text) RETURNS integer
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    recorded integer;
    backfill_before timestamptz;
    placed_name text;
    line_name text;
BEGIN
    IF NOT klaviyo.module_enabled() THEN
        RETURN 0;
    END IF;
    backfill_before := now() - klaviyo.backfill_age();
    placed_name := klaviyo.metric_name('placed_order');
    line_name := klaviyo.metric_name('ordered_product');
    WITH RECURSIVE o AS (
        SELECT s.*,
               jsonb_strip_nulls(jsonb_build_object('external_id', s.customer_id,
                                                    'email', s.email)) AS profile,
               'order:' || s.order_id AS placed_key
        FROM klaviyo_source.orders s
        WHERE s.order_id = order_id AND (s.customer_id IS NOT NULL OR s.email IS NOT NULL)
    ),
    lines AS (
        SELECT l.*
        FROM klaviyo_source.order_lines l
        JOIN o ON l.order_id = o.order_id
    ),
    -- Category names of every product of the order (ancestors too) in one walk up the tree.
    up AS (
        SELECT pc.product_id, c.parent_id, c.name, 0 AS depth, ARRAY[c.category_id] AS seen
        FROM klaviyo_source.product_categories pc
        JOIN klaviyo_source.categories c ON c.category_id = pc.category_id
        WHERE pc.product_id IN (SELECT product_id FROM lines) AND c.deleted_at IS NULL
        UNION ALL
        SELECT up.product_id, p.parent_id, p.name, up.depth + 1, up.seen || p.category_id
        FROM up
        JOIN klaviyo_source.categories p ON p.category_id = up.parent_id
        WHERE NOT p.category_id = ANY (up.seen)
    ),
    categories AS (
        SELECT product_id, jsonb_agg(name ORDER BY depth DESC, name) AS names
        FROM (SELECT product_id, name, max(depth) AS depth FROM up GROUP BY product_id, name) n
        GROUP BY product_id
    ),
    items AS (
        SELECT l.line_no, l.total_minor, l.brand,
               jsonb_strip_nulls(jsonb_build_object(
                   'ProductID', l.product_id,
                   'SKU', l.sku,
                   'ProductName', l.name,
                   'Quantity', l.quantity,
                   'ItemPrice_cents', l.unit_price_minor,
                   'RowTotal_cents', l.total_minor,
                   'ProductURL', l.product_url,
                   'ImageURL', l.image_url,
                   'Brand', l.brand,
                   'Categories', coalesce(c.names, '[]'::jsonb))) AS item
        FROM lines l
        LEFT JOIN categories c ON c.product_id = l.product_id
    ),
    order_props AS (
        SELECT klaviyo.items_summary(i.items) || jsonb_strip_nulls(jsonb_build_object(
                   'OrderId', o.order_id,
                   'OrderNumber', o.number,
                   'DiscountCode', o.discount_code,
                   'DiscountValue_cents', o.discount_minor,
                   'Subtotal_cents', o.subtotal_minor,
                   'Shipping_cents', o.shipping_minor,
                   'Tax_cents', o.tax_minor)) || jsonb_build_object('Items', i.items) AS props
        FROM o, (SELECT coalesce(jsonb_agg(item ORDER BY line_no), '[]'::jsonb) AS items
                 FROM items) i
    ),
    events AS (
        SELECT o.placed_key || ':line:' || items.line_no AS key,
               line_name AS metric,
               items.item || jsonb_strip_nulls(jsonb_build_object(
                   'OrderId', o.order_id, 'OrderNumber', o.number,
                   'ProductBrand', items.brand)) AS props,
               items.total_minor AS value_cents,
               o.placed_at AS occurred_at,
               NULL::text AS unique_id
        FROM o, items
        UNION ALL
        SELECT o.placed_key, placed_name, p.props, o.total_minor, o.placed_at, NULL
        FROM o, order_props p
        UNION ALL
        -- Status events reuse the Placed Order's unique_id (Klaviyo dedups per metric).
        SELECT o.placed_key || ':' || s.suffix, klaviyo.metric_name(s.metric_key),
               p.props || jsonb_strip_nulls(jsonb_build_object('Reason', s.reason)),
               o.total_minor, s.at, o.placed_key
        FROM o, order_props p,
             LATERAL (VALUES ('fulfilled', 'fulfilled_order', o.fulfilled_at, NULL::text),
                             ('cancelled', 'cancelled_order', o.cancelled_at, o.cancel_reason),
                             ('refunded', 'refunded_order', o.refunded_at, o.refund_reason))
                     AS s (suffix, metric_key, at, reason)
        WHERE s.at IS NOT NULL
    ),
    inserted AS (
        INSERT INTO klaviyo.event_outbox AS e
            (idempotency_key, metric_name, customer_id, email, profile, properties,
             value_cents, value_currency, occurred_at, backfill, unique_id)
        SELECT ev.key, ev.metric, o.customer_id, o.email, o.profile, ev.props, ev.value_cents,
               o.currency, ev.occurred_at, ev.occurred_at < backfill_before, ev.unique_id
        FROM events ev, o
        ON CONFLICT ON CONSTRAINT event_outbox_idempotency_key_key DO NOTHING
        RETURNING 1
    )
    SELECT count(*) INTO recorded FROM inserted;
    RETURN recorded;
END
$$;
