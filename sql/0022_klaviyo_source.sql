-- The source contract: the Klaviyo module reads the store only through these views.
--
-- They map the reference store (`core`) onto the columns the module needs. A platform with other
-- tables redefines these views (same names, same columns, same types) and
-- `klaviyo_source.set_customer_consent` over its own tables; nothing of the `klaviyo` schema
-- changes. Its own listeners then call the producers (`klaviyo.touch_customer`,
-- `klaviyo.record_order_events`, ...) from triggers or application code, as 0026 does for `core`.
-- Ids are text; money is integer minor units with an ISO 4217 currency.

CREATE SCHEMA IF NOT EXISTS klaviyo_source;

CREATE VIEW klaviyo_source.customers AS
SELECT c.id AS customer_id,
       c.email,
       c.phone,
       c.first_name,
       c.last_name,
       c.locale,
       c.address1,
       c.address2,
       c.city,
       c.region,
       c.postal_code,
       c.country_code,
       c.accepts_email_marketing,
       c.consent_updated_at,
       c.properties,
       c.created_at,
       c.updated_at,
       c.deleted_at
FROM core.customers c;

CREATE VIEW klaviyo_source.categories AS
SELECT g.id AS category_id, g.parent_id, g.name, g.slug, g.updated_at, g.deleted_at
FROM core.categories g;

-- Every category with the names from the root down to itself ("Furniture > Bookcases").
CREATE VIEW klaviyo_source.category_breadcrumbs AS
WITH RECURSIVE walk AS (
    SELECT category_id, parent_id, ARRAY[category_id] AS path_ids, ARRAY[name] AS path_names
    FROM klaviyo_source.categories
    WHERE parent_id IS NULL
    UNION ALL
    SELECT c.category_id, c.parent_id, w.path_ids || c.category_id, w.path_names || c.name
    FROM klaviyo_source.categories c
    JOIN walk w ON c.parent_id = w.category_id
    WHERE NOT c.category_id = ANY (w.path_ids)
)
SELECT category_id, path_ids, path_names, array_to_string(path_names, ' > ') AS breadcrumb
FROM walk;

CREATE VIEW klaviyo_source.products AS
SELECT p.id AS product_id, p.title, p.description, p.handle, p.url, p.brand, p.image_url,
       p.published, p.updated_at, p.deleted_at
FROM core.products p;

CREATE VIEW klaviyo_source.product_categories AS
SELECT pc.product_id, pc.category_id
FROM core.product_categories pc;

CREATE VIEW klaviyo_source.variants AS
SELECT v.id AS variant_id, v.product_id, v.sku, v.title, v.price_minor, v.currency,
       v.inventory_quantity, v.image_url, v.published, v.updated_at, v.deleted_at
FROM core.variants v;

CREATE VIEW klaviyo_source.discounts AS
SELECT d.id AS discount_id, d.code, d.kind, d.percent_off, d.amount_off_minor, d.currency,
       d.starts_at, d.ends_at, d.updated_at, d.deleted_at
FROM core.discounts d;

CREATE VIEW klaviyo_source.orders AS
SELECT o.id AS order_id,
       o.customer_id,
       coalesce(o.email, c.email) AS email,
       o.number,
       o.currency,
       o.subtotal_minor,
       o.discount_minor,
       o.shipping_minor,
       o.tax_minor,
       o.total_minor,
       o.discount_code,
       o.status,
       o.placed_at,
       o.fulfilled_at,
       o.cancelled_at,
       o.refunded_at,
       o.cancel_reason,
       o.refund_reason,
       o.updated_at
FROM core.orders o
LEFT JOIN core.customers c ON c.id = o.customer_id;

CREATE VIEW klaviyo_source.order_lines AS
SELECT l.order_id,
       l.line_no,
       l.variant_id,
       coalesce(l.product_id, v.product_id) AS product_id,
       coalesce(l.sku, v.sku) AS sku,
       l.name,
       l.quantity,
       l.unit_price_minor,
       l.total_minor,
       p.brand,
       p.url AS product_url,
       coalesce(v.image_url, p.image_url) AS image_url
FROM core.order_lines l
LEFT JOIN core.variants v ON v.id = l.variant_id
LEFT JOIN core.products p ON p.id = coalesce(l.product_id, v.product_id);

CREATE VIEW klaviyo_source.carts AS
SELECT k.id AS cart_id,
       k.customer_id,
       coalesce(k.email, c.email) AS email,
       k.currency,
       k.version,
       k.checkout_url,
       k.checkout_started_at,
       k.updated_at
FROM core.carts k
LEFT JOIN core.customers c ON c.id = k.customer_id;

CREATE VIEW klaviyo_source.cart_lines AS
SELECT l.cart_id,
       l.line_no,
       l.variant_id,
       coalesce(l.product_id, v.product_id) AS product_id,
       coalesce(l.sku, v.sku) AS sku,
       l.name,
       l.quantity,
       l.unit_price_minor,
       l.unit_price_minor * l.quantity AS total_minor,
       p.brand,
       p.url AS product_url,
       coalesce(v.image_url, p.image_url) AS image_url,
       l.added_at,
       l.updated_at
FROM core.cart_lines l
LEFT JOIN core.variants v ON v.id = l.variant_id
LEFT JOIN core.products p ON p.id = coalesce(l.product_id, v.product_id);

CREATE VIEW klaviyo_source.product_views AS
SELECT w.id::text AS view_id,
       w.customer_id,
       coalesce(w.email, c.email) AS email,
       w.product_id,
       w.variant_id,
       w.viewed_at
FROM core.product_views w
LEFT JOIN core.customers c ON c.id = w.customer_id;

-- Writes a consent change that came from Klaviyo back into the store. An older change than the
-- one the store holds is ignored, so a late webhook never undoes a newer choice. Answers whether
-- the store changed.
CREATE FUNCTION klaviyo_source.set_customer_consent(
    customer_id text, subscribed boolean, at timestamptz
) RETURNS boolean
LANGUAGE sql AS $$
    WITH changed AS (
        UPDATE core.customers c
        SET accepts_email_marketing = set_customer_consent.subscribed,
            consent_updated_at = set_customer_consent.at,
            updated_at = now()
        WHERE c.id = set_customer_consent.customer_id
          AND (c.consent_updated_at IS NULL OR c.consent_updated_at <= set_customer_consent.at)
          AND (c.accepts_email_marketing IS DISTINCT FROM set_customer_consent.subscribed
               OR c.consent_updated_at IS DISTINCT FROM set_customer_consent.at)
        RETURNING 1
    )
    SELECT count(*) > 0 FROM changed
$$;
