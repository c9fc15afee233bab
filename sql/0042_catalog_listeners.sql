-- The catalog, category and coupon listeners on the reference store (`core`).
--
-- Statement-level triggers with transition tables: a bulk load of 100,000 variants touches
-- their state rows in one statement, not 100,000. PostgreSQL allows transition tables only on
-- single-event triggers, hence one trigger per event.

CREATE FUNCTION klaviyo.core_variants_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM klaviyo.touch_variants(ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM klaviyo.touch_variants(ARRAY(SELECT id FROM old_rows));
    ELSE
        -- Only a change to a field the item carries is worth a push.
        PERFORM klaviyo.touch_variants(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (o.sku, o.title, o.price_minor, o.currency, o.inventory_quantity, o.image_url,
                   o.published, o.deleted_at, o.product_id)
                  IS DISTINCT FROM
                  (n.sku, n.title, n.price_minor, n.currency, n.inventory_quantity, n.image_url,
                   n.published, n.deleted_at, n.product_id)));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER klaviyo_variants_inserted AFTER INSERT ON core.variants
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_variants_listener();
CREATE TRIGGER klaviyo_variants_updated AFTER UPDATE ON core.variants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_variants_listener();
CREATE TRIGGER klaviyo_variants_deleted AFTER DELETE ON core.variants
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_variants_listener();

-- A product insert has no variants yet; its variants' own inserts touch them. A product delete
-- cascades to its variants, whose delete trigger touches them.
CREATE FUNCTION klaviyo.core_products_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM klaviyo.touch_products(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (o.title, o.description, o.handle, o.url, o.brand, o.image_url, o.published,
               o.deleted_at)
              IS DISTINCT FROM
              (n.title, n.description, n.handle, n.url, n.brand, n.image_url, n.published,
               n.deleted_at)));
    RETURN NULL;
END
$$;

CREATE TRIGGER klaviyo_products_updated AFTER UPDATE ON core.products
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_products_listener();

-- A product joining or leaving a category moves its variants' items between categories.
CREATE FUNCTION klaviyo.core_product_categories_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM klaviyo.touch_products(ARRAY(SELECT DISTINCT product_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM klaviyo.touch_products(ARRAY(SELECT DISTINCT product_id FROM old_rows));
    ELSE
        PERFORM klaviyo.touch_products(ARRAY(
            SELECT product_id FROM new_rows UNION SELECT product_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER klaviyo_product_categories_inserted AFTER INSERT ON core.product_categories
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_product_categories_listener();
CREATE TRIGGER klaviyo_product_categories_updated AFTER UPDATE ON core.product_categories
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_product_categories_listener();
CREATE TRIGGER klaviyo_product_categories_deleted AFTER DELETE ON core.product_categories
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_product_categories_listener();

CREATE FUNCTION klaviyo.core_categories_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM klaviyo.touch_categories(ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM klaviyo.touch_categories(ARRAY(SELECT id FROM old_rows));
    ELSE
        PERFORM klaviyo.touch_categories(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (o.name, o.parent_id, o.deleted_at)
                  IS DISTINCT FROM (n.name, n.parent_id, n.deleted_at)));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER klaviyo_categories_inserted AFTER INSERT ON core.categories
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_categories_listener();
CREATE TRIGGER klaviyo_categories_updated AFTER UPDATE ON core.categories
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_categories_listener();
CREATE TRIGGER klaviyo_categories_deleted AFTER DELETE ON core.categories
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_categories_listener();

CREATE FUNCTION klaviyo.core_discounts_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM klaviyo.touch_discounts(ARRAY(SELECT id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM klaviyo.touch_discounts(ARRAY(SELECT id FROM old_rows));
    ELSE
        PERFORM klaviyo.touch_discounts(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (o.code, o.kind, o.percent_off, o.amount_off_minor, o.currency, o.starts_at,
                   o.ends_at, o.deleted_at)
                  IS DISTINCT FROM
                  (n.code, n.kind, n.percent_off, n.amount_off_minor, n.currency, n.starts_at,
                   n.ends_at, n.deleted_at)));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER klaviyo_discounts_inserted AFTER INSERT ON core.discounts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_discounts_listener();
CREATE TRIGGER klaviyo_discounts_updated AFTER UPDATE ON core.discounts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_discounts_listener();
CREATE TRIGGER klaviyo_discounts_deleted AFTER DELETE ON core.discounts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.core_discounts_listener();
