"""The HTTP layer: app factory, envelopes, errors, pagination and request logging."""
