"""Inbound Klaviyo webhooks: verified deliveries → inbox → consent mirror in the store."""
