"""Shared fixtures: real PostgreSQL, the sandbox as a real HTTP server, the admin API."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.store",
    "tests.fixtures.sandbox",
    "tests.fixtures.api",
    "tests.fixtures.webhooks",
    "tests.fixtures.drain",
]
