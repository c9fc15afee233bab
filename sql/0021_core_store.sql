-- Reference store schema `core`: the tables a real store has. The Klaviyo module does not own
-- them; it reads them only through the `klaviyo_source` views (0022) and listens to them with
-- triggers (0026). Money is integer minor units with an ISO 4217 currency everywhere.

CREATE SCHEMA IF NOT EXISTS core;

CREATE TABLE core.customers (
    id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    email text,
    phone text,
    first_name text,
    last_name text,
    locale text,
    address1 text,
    address2 text,
    city text,
    region text,
    postal_code text,
    country_code text CHECK (country_code IS NULL OR country_code ~ '^[A-Z]{2}$'),
    accepts_email_marketing boolean NOT NULL DEFAULT false,
    -- When the shopper last gave or withdrew consent; null means they were never asked.
    consent_updated_at timestamptz,
    -- Store-defined attributes that go out as custom profile properties.
    properties jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE INDEX customers_email_idx ON core.customers (lower(email));

CREATE TABLE core.categories (
    id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    parent_id text REFERENCES core.categories (id),
    name text NOT NULL,
    slug text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CHECK (parent_id IS DISTINCT FROM id)
);

CREATE INDEX categories_parent_idx ON core.categories (parent_id);

CREATE TABLE core.products (
    id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    title text NOT NULL,
    description text,
    handle text UNIQUE,
    url text,
    brand text,
    image_url text,
    published boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE core.product_categories (
    product_id text NOT NULL REFERENCES core.products (id) ON DELETE CASCADE,
    category_id text NOT NULL REFERENCES core.categories (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, category_id)
);

CREATE INDEX product_categories_category_idx ON core.product_categories (category_id);

CREATE TABLE core.variants (
    id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    product_id text NOT NULL REFERENCES core.products (id) ON DELETE CASCADE,
    sku text UNIQUE,
    title text,
    price_minor bigint NOT NULL CHECK (price_minor >= 0),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    inventory_quantity integer NOT NULL DEFAULT 0,
    image_url text,
    published boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE INDEX variants_product_idx ON core.variants (product_id);

CREATE TABLE core.discounts (
    id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    code text NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('percentage', 'fixed')),
    -- percentage: percent off (0, 100]; fixed: amount off in minor units of `currency`.
    percent_off numeric(5, 2),
    amount_off_minor bigint,
    currency text CHECK (currency IS NULL OR currency ~ '^[A-Z]{3}$'),
    starts_at timestamptz,
    ends_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CHECK (kind <> 'percentage' OR (percent_off > 0 AND percent_off <= 100)),
    CHECK (kind <> 'fixed' OR (amount_off_minor > 0 AND currency IS NOT NULL)),
    CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);

CREATE TABLE core.orders (
    id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    customer_id text REFERENCES core.customers (id),
    -- A guest checkout's e-mail; a customer's order may leave it null.
    email text,
    number text NOT NULL UNIQUE,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    subtotal_minor bigint NOT NULL DEFAULT 0,
    discount_minor bigint NOT NULL DEFAULT 0 CHECK (discount_minor >= 0),
    shipping_minor bigint NOT NULL DEFAULT 0,
    tax_minor bigint NOT NULL DEFAULT 0,
    total_minor bigint NOT NULL,
    discount_code text,
    status text NOT NULL DEFAULT 'placed'
        CHECK (status IN ('placed', 'fulfilled', 'cancelled', 'refunded')),
    placed_at timestamptz NOT NULL DEFAULT now(),
    fulfilled_at timestamptz,
    cancelled_at timestamptz,
    refunded_at timestamptz,
    cancel_reason text,
    refund_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Each status carries the time it was reached: the listeners read the times, not the status.
    CHECK (status <> 'fulfilled' OR fulfilled_at IS NOT NULL),
    CHECK (status <> 'cancelled' OR cancelled_at IS NOT NULL),
    CHECK (status <> 'refunded' OR refunded_at IS NOT NULL)
);

CREATE INDEX orders_customer_idx ON core.orders (customer_id);

CREATE TABLE core.order_lines (
    order_id text NOT NULL REFERENCES core.orders (id) ON DELETE CASCADE,
    line_no integer NOT NULL CHECK (line_no > 0),
    variant_id text REFERENCES core.variants (id),
    product_id text REFERENCES core.products (id),
    sku text,
    name text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL,
    total_minor bigint NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE core.carts (
    id text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    customer_id text REFERENCES core.customers (id),
    email text,
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Bumped by every change to the cart, so each checkout of a changed cart is its own event.
    version integer NOT NULL DEFAULT 1,
    checkout_url text,
    checkout_started_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX carts_customer_idx ON core.carts (customer_id);

CREATE TABLE core.cart_lines (
    cart_id text NOT NULL REFERENCES core.carts (id) ON DELETE CASCADE,
    line_no integer NOT NULL CHECK (line_no > 0),
    variant_id text REFERENCES core.variants (id),
    product_id text REFERENCES core.products (id),
    sku text,
    name text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cart_id, line_no)
);

CREATE TABLE core.product_views (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id text REFERENCES core.customers (id),
    email text,
    product_id text NOT NULL REFERENCES core.products (id),
    variant_id text REFERENCES core.variants (id),
    viewed_at timestamptz NOT NULL DEFAULT now()
);
