"""Builds the `python -m app` parser from the command modules and runs the chosen command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from app.config import Config, ConfigError
from app.logs import configure_logging

# Each module exposes `register(subparsers)`, adding its commands with `func(config, args) -> int`.
COMMAND_MODULES = (
    "app.cli.db",
    "app.cli.sandbox",
    "app.cli.run",
    "app.cli.load",
    "app.cli.serve",
    "app.cli.admin",
    "app.cli.settings",
    "app.cli.status",
    "app.cli.bootstrap",
    "app.cli.failed",
    "app.cli.resync",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="Klaviyo sync service: admin API, sandbox, migrations and operator tools.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = Config.from_environ()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_format, config.log_level)
    try:
        return int(args.func(config, args) or 0)
    except ConfigError as exc:  # found while the command ran (e.g. a secret it needs is unset)
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
