-- State rows of the catalog, category and coupon surfaces, and the bulk jobs in flight.
--
-- Same bookkeeping as klaviyo.profile_state (0020): a touch bumps change_seq and marks the row
-- pending; a push records the change_seq it read (submitted_seq) and, when Klaviyo confirms it,
-- sets pushed_seq to it and the final status only if no touch came in meanwhile.

CREATE TABLE klaviyo.catalog_state (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    variant_id text NOT NULL UNIQUE,
    -- Set while Klaviyo holds the item: decides create (null) versus update or delete.
    klaviyo_catalog_item_id text,
    -- 'submitted': a bulk job carrying this row is in flight (bulk_job_id).
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'submitted', 'synced', 'failed', 'deleted', 'skipped')),
    operation text CHECK (operation IN ('create', 'update', 'delete')),
    bulk_job_id uuid,
    -- Category ids the last push linked the item to.
    pushed_category_ids text[] NOT NULL DEFAULT '{}',
    change_seq bigint NOT NULL DEFAULT 1,
    submitted_seq bigint,
    pushed_seq bigint NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_by text,
    lease_expires_at timestamptz,
    last_error text,
    last_pushed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX catalog_state_drain_idx ON klaviyo.catalog_state (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX catalog_state_failed_idx ON klaviyo.catalog_state (updated_at DESC, id)
    WHERE status = 'failed';
CREATE INDEX catalog_state_job_idx ON klaviyo.catalog_state (bulk_job_id)
    WHERE bulk_job_id IS NOT NULL;

-- Categories have no 'submitted' in the contract: a row in a job in flight stays 'pending'
-- with bulk_job_id set, and the drain does not claim it again until the job is settled.
CREATE TABLE klaviyo.category_state (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    category_id text NOT NULL UNIQUE,
    klaviyo_category_id text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'synced', 'failed', 'deleted', 'skipped')),
    operation text CHECK (operation IN ('create', 'update', 'delete')),
    bulk_job_id uuid,
    pushed_name text,
    change_seq bigint NOT NULL DEFAULT 1,
    submitted_seq bigint,
    pushed_seq bigint NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_by text,
    lease_expires_at timestamptz,
    last_error text,
    last_pushed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX category_state_drain_idx ON klaviyo.category_state (next_attempt_at)
    WHERE status = 'pending' AND bulk_job_id IS NULL;
CREATE INDEX category_state_failed_idx ON klaviyo.category_state (updated_at DESC, id)
    WHERE status = 'failed';
CREATE INDEX category_state_job_idx ON klaviyo.category_state (bulk_job_id)
    WHERE bulk_job_id IS NOT NULL;

CREATE TABLE klaviyo.coupon_state (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    discount_id text NOT NULL UNIQUE,
    klaviyo_coupon_id text,
    klaviyo_coupon_code_id text,
    -- The code Klaviyo holds for this coupon; a store code change deletes it first.
    last_pushed_code text,
    pushed_description text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'synced', 'failed', 'deleted', 'skipped')),
    change_seq bigint NOT NULL DEFAULT 1,
    pushed_seq bigint NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    leased_by text,
    lease_expires_at timestamptz,
    last_error text,
    last_pushed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX coupon_state_drain_idx ON klaviyo.coupon_state (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX coupon_state_failed_idx ON klaviyo.coupon_state (updated_at DESC, id)
    WHERE status = 'failed';
CREATE INDEX coupon_state_synced_idx ON klaviyo.coupon_state (discount_id)
    WHERE status = 'synced';

-- Catalog bulk jobs submitted to Klaviyo and not yet settled by the poller. row_ids lists the
-- state rows in the order of the job's data array, so a per-item error pointer
-- (/data/attributes/items/data/<i>/...) names its row.
CREATE TABLE klaviyo.catalog_bulk_jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    klaviyo_job_id text NOT NULL UNIQUE,
    resource text NOT NULL CHECK (resource IN ('item', 'category')),
    operation text NOT NULL CHECK (operation IN ('create', 'update', 'delete')),
    row_ids uuid[] NOT NULL,
    status text NOT NULL DEFAULT 'in_progress'
        CHECK (status IN ('in_progress', 'complete', 'timed_out')),
    submitted_at timestamptz NOT NULL DEFAULT now(),
    -- A job still running at its deadline is given up and its rows retried.
    deadline timestamptz NOT NULL,
    next_poll_at timestamptz NOT NULL DEFAULT now(),
    polls integer NOT NULL DEFAULT 0,
    leased_by text,
    lease_expires_at timestamptz,
    settled_at timestamptz,
    failed_count integer,
    last_error text
);

CREATE INDEX catalog_bulk_jobs_poll_idx ON klaviyo.catalog_bulk_jobs (next_poll_at)
    WHERE status = 'in_progress';
CREATE INDEX catalog_bulk_jobs_settled_idx ON klaviyo.catalog_bulk_jobs (settled_at)
    WHERE status <> 'in_progress';
