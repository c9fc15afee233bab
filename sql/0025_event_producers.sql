-- Event producers per store fact: each reads klaviyo_source, freezes the payload Klaviyo's
-- e-commerce integrations expect and records it with a deterministic idempotency key.
--
-- Money stays integer minor units: properties ending in `_cents` (and the row's value_cents)
-- are converted with the currency's own exponent when the drain pushes them
-- (app/klaviyo/payloads/events.py). A fact without a profile to attach it to (a guest with no
-- e-mail) is not recorded: Klaviyo cannot take it, and the store's write must not fail for it.
-- Each function answers how many events it newly recorded.

-- Names of a product's categories and of their ancestors, the roots first.
CREATE FUNCTION klaviyo.product_category_names(product_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up AS (
        SELECT c.category_id, c.parent_id, c.name, 0 AS depth, ARRAY[c.category_id] AS seen
        FROM klaviyo_source.product_categories pc
        JOIN klaviyo_source.categories c ON c.category_id = pc.category_id
        WHERE pc.product_id = product_category_names.product_id AND c.deleted_at IS NULL
        UNION ALL
        SELECT p.category_id, p.parent_id, p.name, up.depth + 1, up.seen || p.category_id
        FROM up
        JOIN klaviyo_source.categories p ON p.category_id = up.parent_id
        WHERE NOT p.category_id = ANY (up.seen)
    )
    SELECT coalesce(jsonb_agg(name ORDER BY depth DESC, name), '[]'::jsonb)
    FROM (SELECT name, max(depth) AS depth FROM up GROUP BY name) named
$$;

-- One line of an order or a cart in the shape of Klaviyo's `Items[]` entries.
CREATE FUNCTION klaviyo.item_properties(
    product_id text, sku text, name text, quantity integer, unit_price_minor bigint,
    total_minor bigint, product_url text, image_url text, brand text
) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'ProductID', product_id,
        'SKU', sku,
        'ProductName', name,
        'Quantity', quantity,
        'ItemPrice_cents', unit_price_minor,
        'RowTotal_cents', total_minor,
        'ProductURL', product_url,
        'ImageURL', image_url,
        'Brand', brand,
        'Categories', klaviyo.product_category_names(product_id)
    ))
$$;

-- Names shared by a list of items: distinct category names, item names and brands.
CREATE FUNCTION klaviyo.items_summary(items jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'Categories', coalesce((SELECT jsonb_agg(DISTINCT c) FROM jsonb_array_elements(items) i,
                                jsonb_array_elements(i -> 'Categories') c), '[]'::jsonb),
        'ItemNames', coalesce((SELECT jsonb_agg(i -> 'ProductName')
                               FROM jsonb_array_elements(items) i), '[]'::jsonb),
        'Brands', coalesce((SELECT jsonb_agg(DISTINCT i -> 'Brand') FROM jsonb_array_elements(items) i
                            WHERE i ? 'Brand'), '[]'::jsonb)
    )
$$;

-- Placed Order and one Ordered Product per line, then Fulfilled / Cancelled / Refunded Order
-- for each status time the order carries. Safe to call again at any time: keys dedup.
-- Status events reuse the Placed Order's unique_id (Klaviyo dedups per metric) and carry its
-- OrderId, so they attach to the same order; their outbox keys are order:<id>:<status>.
CREATE FUNCTION klaviyo.record_order_events(order_id text) RETURNS integer
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    o record;
    line record;
    items jsonb := '[]'::jsonb;
    order_props jsonb;
    placed_key text;
    recorded integer := 0;
    status_event record;
BEGIN
    IF NOT klaviyo.module_enabled() THEN
        RETURN 0;
    END IF;
    SELECT * INTO o FROM klaviyo_source.orders s WHERE s.order_id = order_id;
    IF NOT FOUND OR (o.customer_id IS NULL AND o.email IS NULL) THEN
        RETURN 0;
    END IF;
    placed_key := 'order:' || o.order_id;

    FOR line IN
        SELECT l.*, klaviyo.item_properties(l.product_id, l.sku, l.name, l.quantity,
                   l.unit_price_minor, l.total_minor, l.product_url, l.image_url, l.brand) AS item
        FROM klaviyo_source.order_lines l
        WHERE l.order_id = o.order_id
        ORDER BY l.line_no
    LOOP
        items := items || jsonb_build_array(line.item);
        recorded := recorded + (klaviyo.record_event(
            placed_key || ':line:' || line.line_no, klaviyo.metric_name('ordered_product'),
            o.customer_id, o.email, NULL,
            line.item || jsonb_strip_nulls(jsonb_build_object(
                'OrderId', o.order_id, 'OrderNumber', o.number, 'ProductBrand', line.brand)),
            line.total_minor, o.currency, o.placed_at) IS NOT NULL)::integer;
    END LOOP;

    order_props := klaviyo.items_summary(items) || jsonb_strip_nulls(jsonb_build_object(
        'OrderId', o.order_id,
        'OrderNumber', o.number,
        'DiscountCode', o.discount_code,
        'DiscountValue_cents', o.discount_minor,
        'Subtotal_cents', o.subtotal_minor,
        'Shipping_cents', o.shipping_minor,
        'Tax_cents', o.tax_minor,
        'Items', items
    ));
    recorded := recorded + (klaviyo.record_event(
        placed_key, klaviyo.metric_name('placed_order'), o.customer_id, o.email, NULL,
        order_props, o.total_minor, o.currency, o.placed_at) IS NOT NULL)::integer;

    FOR status_event IN
        SELECT * FROM (VALUES
            ('fulfilled', 'fulfilled_order', o.fulfilled_at, NULL::text),
            ('cancelled', 'cancelled_order', o.cancelled_at, o.cancel_reason),
            ('refunded', 'refunded_order', o.refunded_at, o.refund_reason)
        ) AS s (suffix, metric_key, at, reason)
        WHERE s.at IS NOT NULL
    LOOP
        recorded := recorded + (klaviyo.record_event(
            placed_key || ':' || status_event.suffix, klaviyo.metric_name(status_event.metric_key),
            o.customer_id, o.email, NULL,
            order_props || jsonb_strip_nulls(jsonb_build_object('Reason', status_event.reason)),
            o.total_minor, o.currency, status_event.at, NULL, placed_key) IS NOT NULL)::integer;
    END LOOP;
    RETURN recorded;
END
$$;

-- A cart's lines as Klaviyo `Items[]`, with the cart's total.
CREATE FUNCTION klaviyo.cart_contents(cart_id text, OUT items jsonb, OUT total_minor bigint)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(klaviyo.item_properties(l.product_id, l.sku, l.name, l.quantity,
                        l.unit_price_minor, l.total_minor, l.product_url, l.image_url, l.brand)
                    ORDER BY l.line_no), '[]'::jsonb),
           coalesce(sum(l.total_minor), 0)::bigint
    FROM klaviyo_source.cart_lines l
    WHERE l.cart_id = cart_contents.cart_id
$$;

-- Started Checkout, once per cart version: checkout:<cart>:<version>.
CREATE FUNCTION klaviyo.record_started_checkout(cart_id text) RETURNS integer
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    k record;
    contents record;
BEGIN
    IF NOT klaviyo.module_enabled() THEN
        RETURN 0;
    END IF;
    SELECT * INTO k FROM klaviyo_source.carts s WHERE s.cart_id = cart_id;
    IF NOT FOUND OR k.checkout_started_at IS NULL OR (k.customer_id IS NULL AND k.email IS NULL)
    THEN
        RETURN 0;
    END IF;
    SELECT * INTO contents FROM klaviyo.cart_contents(k.cart_id);
    RETURN (klaviyo.record_event(
        'checkout:' || k.cart_id || ':' || k.version, klaviyo.metric_name('started_checkout'),
        k.customer_id, k.email, NULL,
        klaviyo.items_summary(contents.items) || jsonb_strip_nulls(jsonb_build_object(
            'CartId', k.cart_id, 'CheckoutURL', k.checkout_url, 'Items', contents.items)),
        contents.total_minor, k.currency, k.checkout_started_at) IS NOT NULL)::integer;
END
$$;

-- Added to Cart for one line at the cart's version: cart:<cart>:line:<n>:v<version>.
CREATE FUNCTION klaviyo.record_added_to_cart(cart_id text, line_no integer) RETURNS integer
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    k record;
    line record;
    contents record;
    added jsonb;
BEGIN
    IF NOT klaviyo.module_enabled() THEN
        RETURN 0;
    END IF;
    SELECT * INTO k FROM klaviyo_source.carts s WHERE s.cart_id = cart_id;
    IF NOT FOUND OR (k.customer_id IS NULL AND k.email IS NULL) THEN
        RETURN 0;
    END IF;
    SELECT * INTO line FROM klaviyo_source.cart_lines l
    WHERE l.cart_id = k.cart_id AND l.line_no = line_no;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT * INTO contents FROM klaviyo.cart_contents(k.cart_id);
    added := jsonb_strip_nulls(jsonb_build_object(
        'AddedItemProductID', line.product_id,
        'AddedItemSKU', line.sku,
        'AddedItemProductName', line.name,
        'AddedItemQuantity', line.quantity,
        'AddedItemPrice_cents', line.unit_price_minor,
        'AddedItemURL', line.product_url,
        'AddedItemImageURL', line.image_url,
        'AddedItemBrand', line.brand,
        'AddedItemCategories', klaviyo.product_category_names(line.product_id),
        'CartId', k.cart_id,
        'CheckoutURL', k.checkout_url,
        'Items', contents.items
    ));
    RETURN (klaviyo.record_event(
        'cart:' || k.cart_id || ':line:' || line.line_no || ':v' || k.version,
        klaviyo.metric_name('added_to_cart'), k.customer_id, k.email, NULL,
        klaviyo.items_summary(contents.items) || added,
        contents.total_minor, k.currency, line.updated_at) IS NOT NULL)::integer;
END
$$;

-- Viewed Product for one product view: view:<view id>. The price is the viewed variant's, or
-- the cheapest live variant's when the view names none.
CREATE FUNCTION klaviyo.record_viewed_product(view_id text) RETURNS integer
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    w record;
    p record;
    v record;
BEGIN
    IF NOT klaviyo.module_enabled() THEN
        RETURN 0;
    END IF;
    SELECT * INTO w FROM klaviyo_source.product_views s WHERE s.view_id = view_id;
    IF NOT FOUND OR (w.customer_id IS NULL AND w.email IS NULL) THEN
        RETURN 0;
    END IF;
    SELECT * INTO p FROM klaviyo_source.products s WHERE s.product_id = w.product_id;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT * INTO v FROM klaviyo_source.variants s
    WHERE s.product_id = p.product_id
      AND (s.variant_id = w.variant_id OR (w.variant_id IS NULL AND s.deleted_at IS NULL))
    ORDER BY s.price_minor, s.variant_id
    LIMIT 1;
    RETURN (klaviyo.record_event(
        'view:' || w.view_id, klaviyo.metric_name('viewed_product'), w.customer_id, w.email, NULL,
        jsonb_strip_nulls(jsonb_build_object(
            'ProductID', p.product_id,
            'ProductName', p.title,
            'SKU', v.sku,
            'VariantID', v.variant_id,
            'Price_cents', v.price_minor,
            'URL', p.url,
            'ImageURL', coalesce(v.image_url, p.image_url),
            'Brand', p.brand,
            'Categories', klaviyo.product_category_names(p.product_id)
        )),
        v.price_minor, v.currency, w.viewed_at) IS NOT NULL)::integer;
END
$$;
