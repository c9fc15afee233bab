"""Which PostgreSQL the process talks to: DATABASE_URL, or the embedded server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from app.config import Config
from app.db.embedded import EmbeddedServer

DEFAULT_DATABASE = "klaviyo"


def resolve_database_url(config: Config, database: str = DEFAULT_DATABASE) -> str:
    """Answer the URL to connect to, starting the embedded server when none is configured."""
    if config.database_url:
        return config.database_url
    server = EmbeddedServer(config.data_dir)
    server.start()
    create_database_if_missing(server.url(), database)
    return server.url(database)


@contextmanager
def database_for_command(config: Config) -> Iterator[str]:
    """For one-shot commands: the database URL, and the embedded server stopped again afterwards
    if this command was the one that started it."""
    server = None if config.database_url else EmbeddedServer(config.data_dir)
    was_running = server is None or server.is_running()
    try:
        yield resolve_database_url(config)
    finally:
        if server is not None and not was_running:
            server.stop()


def create_database_if_missing(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        exists = conn.execute(query, (database,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
