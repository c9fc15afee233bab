"""`load superstore PATH` and `load demo`: put data into the reference store."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.config import Config
from app.db.target import database_for_command


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("load", help="load data into the reference store")
    sources = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    superstore = sources.add_parser(
        "superstore",
        help="import the public Superstore sample CSV through the store's own tables",
        description="Rows that cannot be used are reported with their line number and reason. "
        "Loading the same file twice changes nothing.",
    )
    superstore.add_argument("path", type=Path, help="path to superstore.csv")
    superstore.add_argument("--show-rejected", action="store_true", help="list every rejected row")
    superstore.set_defaults(func=load_superstore_command)
    demo = sources.add_parser("demo", help="generate the built-in demo store (empty store only)")
    demo.set_defaults(func=load_demo_command)


def load_superstore_command(config: Config, args: argparse.Namespace) -> int:
    from app.db.migrate import migrate
    from app.store.superstore import SuperstoreFormatError
    from app.store.superstore_load import load_superstore

    if not args.path.is_file():
        print(f"no such file: {args.path}")
        return 2
    try:
        with database_for_command(config) as url:
            migrate(url)
            report, parsed = load_superstore(url, args.path)
    except SuperstoreFormatError as exc:
        print(f"cannot load: {exc}")
        return 2
    print(f"Loaded {report.summary()}.")
    for note in report.notes:
        print(f"note: {note}")
    shown = parsed.rejected if args.show_rejected else parsed.rejected[:10]
    for row in shown:
        print(f"rejected line {row.line_number}: {row.reason}")
    if len(parsed.rejected) > len(shown):
        print(f"… {len(parsed.rejected) - len(shown)} more (use --show-rejected)")
    return 0


def load_demo_command(config: Config, args: argparse.Namespace) -> int:
    from app.db.migrate import migrate
    from app.store.loading import load_dataset_if_empty

    with database_for_command(config) as url:
        migrate(url)
        loaded = load_dataset_if_empty(url, "demo")
    print(f"Loaded the demo store: {loaded}." if loaded else "The store is not empty: left as is.")
    return 0
