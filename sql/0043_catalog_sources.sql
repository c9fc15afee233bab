-- What the catalog, category and coupon drains read at push time, each batch in one query.

-- One row per variant with its product; `live` says whether it belongs in Klaviyo at all.
-- category_ids holds only the categories Klaviyo already has (their state row carries a
-- Klaviyo id): a link to a category still on its way would fail the item, and the category's
-- arrival touches its items again (klaviyo.touch_items_of_categories).
CREATE FUNCTION klaviyo.catalog_item_source(variant_ids text[])
RETURNS TABLE (
    variant_id text,
    product_id text,
    sku text,
    variant_title text,
    price_minor bigint,
    currency text,
    inventory_quantity integer,
    variant_image_url text,
    product_title text,
    description text,
    handle text,
    url text,
    brand text,
    product_image_url text,
    live boolean,
    category_ids text[]
)
LANGUAGE sql STABLE AS $$
    SELECT v.variant_id, v.product_id, v.sku, v.title, v.price_minor, v.currency,
           v.inventory_quantity, v.image_url, p.title, p.description, p.handle, p.url,
           p.brand, p.image_url,
           v.published AND p.published AND v.deleted_at IS NULL AND p.deleted_at IS NULL,
           coalesce((
               SELECT array_agg(pc.category_id ORDER BY pc.category_id)
               FROM klaviyo_source.product_categories pc
               JOIN klaviyo.category_state cs ON cs.category_id = pc.category_id
               WHERE pc.product_id = v.product_id
                 AND cs.klaviyo_category_id IS NOT NULL
                 AND cs.status <> 'deleted'
           ), '{}')
    FROM klaviyo_source.variants v
    JOIN klaviyo_source.products p ON p.product_id = v.product_id
    WHERE v.variant_id = ANY (variant_ids)
$$;

CREATE FUNCTION klaviyo.category_source(category_ids text[])
RETURNS TABLE (category_id text, breadcrumb text, live boolean)
LANGUAGE sql STABLE AS $$
    SELECT c.category_id, coalesce(b.breadcrumb, c.name),
           c.deleted_at IS NULL
               AND NOT EXISTS (
                   SELECT 1 FROM klaviyo_source.categories a
                   WHERE a.category_id = ANY (b.path_ids) AND a.deleted_at IS NOT NULL)
    FROM klaviyo_source.categories c
    LEFT JOIN klaviyo_source.category_breadcrumbs b ON b.category_id = c.category_id
    WHERE c.category_id = ANY (category_ids)
$$;

-- A category that reached Klaviyo touches the variants of its products, so their items gain
-- the link they could not carry before.
CREATE FUNCTION klaviyo.touch_items_of_categories(category_ids text[]) RETURNS bigint
LANGUAGE sql AS $$
    SELECT klaviyo.touch_products(array_agg(DISTINCT pc.product_id))
    FROM klaviyo_source.product_categories pc
    WHERE pc.category_id = ANY (category_ids)
$$;

CREATE FUNCTION klaviyo.coupon_source(discount_ids text[])
RETURNS SETOF klaviyo_source.discounts
LANGUAGE sql STABLE AS $$
    SELECT d.* FROM klaviyo_source.discounts d WHERE d.discount_id = ANY (discount_ids)
$$;
