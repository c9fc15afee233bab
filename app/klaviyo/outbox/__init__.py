"""Producers of the transactional outbox: profile state rows and event outbox rows."""
