"""`serve`: the admin API under uvicorn, on the migrated database."""

from __future__ import annotations

import argparse
import os
from typing import Any

import msgspec

from app.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the admin API (migrates first; embedded PostgreSQL when DATABASE_URL is unset)",
    )
    parser.add_argument("--host", help="listen address (default HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default PORT or 8000)")
    parser.add_argument(
        "--workers", type=int, help="API processes sharing the port (default API_WORKERS or 1)"
    )
    parser.set_defaults(func=run_serve)


def run_serve(config: Config, args: argparse.Namespace) -> int:
    import uvicorn

    from app.db.migrate import migrate
    from app.db.target import resolve_database_url
    from app.http.factory import create_app
    from app.local_secrets import with_local_secrets

    config = with_local_secrets(config)
    database_url = resolve_database_url(config)
    migrate(database_url)
    config = msgspec.structs.replace(config, database_url=database_url).listening_on(
        args.host or config.host, args.port or config.port
    )
    workers = args.workers or config.api_workers
    # Our request log replaces uvicorn's access log; logging is already configured.
    options: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "log_config": None,
        "access_log": False,
    }
    if workers == 1:
        uvicorn.run(create_app(config), **options)
        return 0
    # Worker processes build their app from the environment: hand them what was resolved here
    # (the database, the generated local secrets, the address), as the main job hands its children.
    os.environ.update(
        DATABASE_URL=database_url,
        HOST=config.host,
        PORT=str(config.port),
        BETTER_AUTH_SECRET=config.better_auth_secret,
        APP_ENCRYPTION_KEY=",".join(config.app_encryption_keys),
    )
    uvicorn.run("app.http.asgi:app_from_environ", factory=True, workers=workers, **options)
    return 0
