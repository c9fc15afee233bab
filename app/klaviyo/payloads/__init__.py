"""Payloads in the shapes Klaviyo's API takes, built from outbox rows and the source contract."""
