-- The klaviyo settings group: API revision, the master and per-surface kill switches, and the
-- webhook secret (Fernet-encrypted by the app; never stored in plaintext).
--
-- One typed row rather than key/value pairs, so every switch has a type and a default. A missing
-- row (a fresh or emptied table) reads as the defaults below.

CREATE TABLE klaviyo.settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    revision text NOT NULL DEFAULT '2026-07-15'
        CHECK (revision ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}(\.pre)?$'),
    sync_enabled boolean NOT NULL DEFAULT true,
    profile_sync_enabled boolean NOT NULL DEFAULT true,
    event_sync_enabled boolean NOT NULL DEFAULT true,
    catalog_sync_enabled boolean NOT NULL DEFAULT true,
    coupon_sync_enabled boolean NOT NULL DEFAULT true,
    webhook_ingest_enabled boolean NOT NULL DEFAULT true,
    consent_polling_enabled boolean NOT NULL DEFAULT false,
    webhook_secret_encrypted bytea,
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO klaviyo.settings (singleton) VALUES (true);
