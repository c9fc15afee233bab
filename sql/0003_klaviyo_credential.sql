-- The connected Klaviyo account: at most one row, so concurrent connects leave exactly one.
-- The private API key is Fernet-encrypted by the app (APP_ENCRYPTION_KEY); never plaintext.

CREATE TABLE klaviyo.credential (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    api_key_encrypted bytea NOT NULL,
    account_id text NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now()
);
