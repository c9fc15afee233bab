"""The Klaviyo module: outbox, drain, Klaviyo client and admin surface."""
