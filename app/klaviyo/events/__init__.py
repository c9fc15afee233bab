"""Event surface: the admin view over the event outbox."""
