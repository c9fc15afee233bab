-- The module's listeners on the reference store: triggers on `core` calling the producers.
--
-- Order, cart and cart-line listeners are DEFERRABLE INITIALLY DEFERRED constraint triggers:
-- they run at commit, when the order's lines and the cart's contents are all written, and read
-- the rows as committed. A platform with its own tables attaches its own listeners instead.

CREATE FUNCTION klaviyo.core_customer_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM klaviyo.touch_customer(NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER klaviyo_customer_inserted
    AFTER INSERT ON core.customers
    FOR EACH ROW EXECUTE FUNCTION klaviyo.core_customer_listener();

-- Only a change to a field the profile carries is worth a push.
CREATE TRIGGER klaviyo_customer_updated
    AFTER UPDATE ON core.customers
    FOR EACH ROW
    WHEN ((OLD.email, OLD.phone, OLD.first_name, OLD.last_name, OLD.locale, OLD.address1,
           OLD.address2, OLD.city, OLD.region, OLD.postal_code, OLD.country_code,
           OLD.accepts_email_marketing, OLD.consent_updated_at, OLD.properties, OLD.deleted_at)
          IS DISTINCT FROM
          (NEW.email, NEW.phone, NEW.first_name, NEW.last_name, NEW.locale, NEW.address1,
           NEW.address2, NEW.city, NEW.region, NEW.postal_code, NEW.country_code,
           NEW.accepts_email_marketing, NEW.consent_updated_at, NEW.properties, NEW.deleted_at))
    EXECUTE FUNCTION klaviyo.core_customer_listener();

CREATE FUNCTION klaviyo.core_order_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM klaviyo.record_order_events(NEW.id);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER klaviyo_order_placed
    AFTER INSERT ON core.orders
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION klaviyo.core_order_listener();

CREATE CONSTRAINT TRIGGER klaviyo_order_status_changed
    AFTER UPDATE ON core.orders
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN ((OLD.fulfilled_at, OLD.cancelled_at, OLD.refunded_at)
          IS DISTINCT FROM (NEW.fulfilled_at, NEW.cancelled_at, NEW.refunded_at))
    EXECUTE FUNCTION klaviyo.core_order_listener();

CREATE FUNCTION klaviyo.core_cart_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM klaviyo.record_started_checkout(NEW.id);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER klaviyo_cart_checkout_inserted
    AFTER INSERT ON core.carts
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.checkout_started_at IS NOT NULL)
    EXECUTE FUNCTION klaviyo.core_cart_listener();

CREATE CONSTRAINT TRIGGER klaviyo_cart_checkout_started
    AFTER UPDATE ON core.carts
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.checkout_started_at IS NOT NULL
          AND (OLD.checkout_started_at, OLD.version)
              IS DISTINCT FROM (NEW.checkout_started_at, NEW.version))
    EXECUTE FUNCTION klaviyo.core_cart_listener();

CREATE FUNCTION klaviyo.core_cart_line_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM klaviyo.record_added_to_cart(NEW.cart_id, NEW.line_no);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER klaviyo_cart_line_added
    AFTER INSERT ON core.cart_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION klaviyo.core_cart_line_listener();

CREATE CONSTRAINT TRIGGER klaviyo_cart_line_increased
    AFTER UPDATE ON core.cart_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.quantity > OLD.quantity)
    EXECUTE FUNCTION klaviyo.core_cart_line_listener();

CREATE FUNCTION klaviyo.core_product_view_listener() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM klaviyo.record_viewed_product(NEW.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER klaviyo_product_viewed
    AFTER INSERT ON core.product_views
    FOR EACH ROW EXECUTE FUNCTION klaviyo.core_product_view_listener();
