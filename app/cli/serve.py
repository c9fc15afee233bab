"""`serve`: the admin API under uvicorn, on the migrated database."""

from __future__ import annotations

import argparse

import msgspec

from app.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the admin API (migrates first; embedded PostgreSQL when DATABASE_URL is unset)",
    )
    parser.add_argument("--host", help="listen address (default HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default PORT or 8000)")
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
    app = create_app(config)
    # Our request log replaces uvicorn's access log; logging is already configured.
    uvicorn.run(app, host=config.host, port=config.port, log_config=None, access_log=False)
    return 0
