"""`run`: the main job — the whole service in one foreground command, stopped by Ctrl-C."""

from __future__ import annotations

import argparse

from app.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run everything: database, sandbox, API, worker; load, connect, bootstrap, watch",
        description="Start the embedded PostgreSQL (when DATABASE_URL is unset), the Klaviyo "
        "sandbox (when KLAVIYO_BASE_URL is unset), the admin API and a procrastinate worker; "
        "load the demo store when the store is empty, connect, bootstrap every surface and show "
        "progress until the backlog is drained; then keep serving until Ctrl-C.",
    )
    parser.add_argument(
        "--dataset",
        choices=("demo", "superstore"),
        default="demo",
        help="what to load into an empty store (superstore reads ../shared/datasets/superstore)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="exit once the backlog is drained instead of serving until Ctrl-C",
    )
    parser.set_defaults(func=run_main)


def run_main(config: Config, args: argparse.Namespace) -> int:
    from app.runner.main_job import MainJob

    return MainJob(config, dataset=args.dataset, keep_serving=not args.no_wait).run()
