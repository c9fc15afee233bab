-- Producers of the catalog, category and coupon surfaces: touch functions (callable from any
-- language, inside the caller's transaction), bootstraps, and the listeners on `core`.
--
-- A touch creates the state row or bumps its change_seq and marks it pending; a row whose bulk
-- job is in flight keeps its status (the poller sees the newer change_seq and re-queues it).
-- With the module off every touch is a no-op. Each answers how many rows it touched.

CREATE FUNCTION klaviyo.touch_variants(variant_ids text[]) RETURNS bigint
LANGUAGE sql AS $$
    WITH touched AS (
        INSERT INTO klaviyo.catalog_state AS s (variant_id)
        SELECT DISTINCT v FROM unnest(variant_ids) AS v
        WHERE v IS NOT NULL AND klaviyo.module_enabled()
        ON CONFLICT ON CONSTRAINT catalog_state_variant_id_key DO UPDATE
        SET change_seq = s.change_seq + 1,
            status = CASE WHEN s.status = 'submitted' THEN 'submitted' ELSE 'pending' END,
            attempts = 0,
            next_attempt_at = now(),
            last_error = NULL,
            updated_at = now()
        RETURNING 1
    )
    SELECT count(*) FROM touched
$$;

-- A product change reaches every one of its variants.
CREATE FUNCTION klaviyo.touch_products(product_ids text[]) RETURNS bigint
LANGUAGE sql AS $$
    SELECT klaviyo.touch_variants(array_agg(v.variant_id))
    FROM klaviyo_source.variants v
    WHERE v.product_id = ANY (product_ids)
$$;

-- A category change reaches its descendants too: their breadcrumb names it.
CREATE FUNCTION klaviyo.touch_categories(category_ids text[]) RETURNS bigint
LANGUAGE sql AS $$
    WITH RECURSIVE tree AS (
        SELECT DISTINCT c AS category_id FROM unnest(category_ids) AS c WHERE c IS NOT NULL
        UNION
        SELECT k.category_id
        FROM klaviyo_source.categories k
        JOIN tree t ON k.parent_id = t.category_id
    ),
    touched AS (
        INSERT INTO klaviyo.category_state AS s (category_id)
        SELECT category_id FROM tree WHERE klaviyo.module_enabled()
        ON CONFLICT ON CONSTRAINT category_state_category_id_key DO UPDATE
        SET change_seq = s.change_seq + 1,
            status = 'pending',
            attempts = 0,
            next_attempt_at = now(),
            last_error = NULL,
            updated_at = now()
        RETURNING 1
    )
    SELECT count(*) FROM touched
$$;

CREATE FUNCTION klaviyo.touch_discounts(discount_ids text[]) RETURNS bigint
LANGUAGE sql AS $$
    WITH touched AS (
        INSERT INTO klaviyo.coupon_state AS s (discount_id)
        SELECT DISTINCT d FROM unnest(discount_ids) AS d
        WHERE d IS NOT NULL AND klaviyo.module_enabled()
        ON CONFLICT ON CONSTRAINT coupon_state_discount_id_key DO UPDATE
        SET change_seq = s.change_seq + 1,
            status = 'pending',
            attempts = 0,
            next_attempt_at = now(),
            last_error = NULL,
            updated_at = now()
        RETURNING 1
    )
    SELECT count(*) FROM touched
$$;

-- Every variant, in one set-based statement; running it again creates no new rows.
CREATE FUNCTION klaviyo.bootstrap_catalog() RETURNS bigint
LANGUAGE sql AS $$
    WITH touched AS (
        INSERT INTO klaviyo.catalog_state AS s (variant_id)
        SELECT v.variant_id FROM klaviyo_source.variants v WHERE klaviyo.module_enabled()
        ON CONFLICT ON CONSTRAINT catalog_state_variant_id_key DO UPDATE
        SET change_seq = s.change_seq + 1,
            status = CASE WHEN s.status = 'submitted' THEN 'submitted' ELSE 'pending' END,
            attempts = 0,
            next_attempt_at = now(),
            last_error = NULL,
            updated_at = now()
        RETURNING 1
    )
    SELECT count(*) FROM touched
$$;

CREATE FUNCTION klaviyo.bootstrap_categories() RETURNS bigint
LANGUAGE sql AS $$
    WITH touched AS (
        INSERT INTO klaviyo.category_state AS s (category_id)
        SELECT c.category_id FROM klaviyo_source.categories c WHERE klaviyo.module_enabled()
        ON CONFLICT ON CONSTRAINT category_state_category_id_key DO UPDATE
        SET change_seq = s.change_seq + 1,
            status = 'pending',
            attempts = 0,
            next_attempt_at = now(),
            last_error = NULL,
            updated_at = now()
        RETURNING 1
    )
    SELECT count(*) FROM touched
$$;

-- Resync of an id the store may not know: the row is created anyway, and the drain marks it
-- skipped (or deletes what Klaviyo holds) when it finds no store row.
CREATE FUNCTION klaviyo.resync_variant(variant_id text) RETURNS boolean
LANGUAGE sql AS $$
    INSERT INTO klaviyo.catalog_state AS s (variant_id) VALUES (resync_variant.variant_id)
    ON CONFLICT ON CONSTRAINT catalog_state_variant_id_key DO UPDATE
    SET change_seq = s.change_seq + 1,
        status = CASE WHEN s.status = 'submitted' THEN 'submitted' ELSE 'pending' END,
        attempts = 0, next_attempt_at = now(), last_error = NULL, updated_at = now()
    RETURNING true
$$;

CREATE FUNCTION klaviyo.resync_category(category_id text) RETURNS boolean
LANGUAGE sql AS $$
    INSERT INTO klaviyo.category_state AS s (category_id) VALUES (resync_category.category_id)
    ON CONFLICT ON CONSTRAINT category_state_category_id_key DO UPDATE
    SET change_seq = s.change_seq + 1, status = 'pending',
        attempts = 0, next_attempt_at = now(), last_error = NULL, updated_at = now()
    RETURNING true
$$;

CREATE FUNCTION klaviyo.resync_discount(discount_id text) RETURNS boolean
LANGUAGE sql AS $$
    INSERT INTO klaviyo.coupon_state AS s (discount_id) VALUES (resync_discount.discount_id)
    ON CONFLICT ON CONSTRAINT coupon_state_discount_id_key DO UPDATE
    SET change_seq = s.change_seq + 1, status = 'pending',
        attempts = 0, next_attempt_at = now(), last_error = NULL, updated_at = now()
    RETURNING true
$$;

-- An expired discount changes no row, so no listener fires: the coupon drain calls this each
-- tick to queue the removal of synced coupons whose discount has ended.
CREATE FUNCTION klaviyo.touch_expired_discounts() RETURNS bigint
LANGUAGE sql AS $$
    SELECT klaviyo.touch_discounts(array_agg(s.discount_id))
    FROM klaviyo.coupon_state s
    JOIN klaviyo_source.discounts d ON d.discount_id = s.discount_id
    WHERE s.status = 'synced' AND d.ends_at <= now()
$$;
