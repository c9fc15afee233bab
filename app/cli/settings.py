"""`settings get [NAME]` and `settings set NAME VALUE`: the klaviyo settings group from a shell."""

from __future__ import annotations

import argparse
import sys

import psycopg

from app.config import Config
from app.klaviyo.settings import SETTING_NAMES

SECRET_NAMES = ("api_key", "webhook_secret")
ALL_NAMES = (*SETTING_NAMES, *SECRET_NAMES)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("settings", help="read or change the klaviyo settings group")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = actions.add_parser("get", help="print one setting, or all (secrets masked)")
    get.add_argument("name", nargs="?", help=f"one of: {', '.join(ALL_NAMES)}")
    get.set_defaults(func=get_settings)
    set_ = actions.add_parser(
        "set",
        help="change one setting",
        description="Switches take true/false; revision takes YYYY-MM-DD. For webhook_secret "
        "pass - to read it from stdin (keeps it out of shell history); an empty value clears it. "
        "The API key is set by POST /admin/klaviyo/connect, which verifies it with Klaviyo.",
    )
    set_.add_argument("name", help=f"one of: {', '.join((*SETTING_NAMES, 'webhook_secret'))}")
    set_.add_argument("value")
    set_.set_defaults(func=set_settings)


def _masked(secret: str | None) -> str:
    if not secret:
        return "(not set)"
    prefix = "pk_" if secret.startswith("pk_") else ""
    return f"{prefix}****{secret[-4:]}"


def _current(conn: psycopg.Connection, config: Config) -> dict[str, str]:
    from app.klaviyo.credentials import load_credential_sync, load_webhook_secret_sync
    from app.klaviyo.secrets import SecretCipher
    from app.klaviyo.settings import load_settings_sync

    settings = load_settings_sync(conn)
    values = {name: str(getattr(settings, name)).lower() for name in SETTING_NAMES}
    values["revision"] = settings.revision
    cipher = SecretCipher.from_keys(config.app_encryption_keys)
    credential = load_credential_sync(conn, cipher)
    values["api_key"] = _masked(credential.api_key if credential else None)
    values["webhook_secret"] = _masked(load_webhook_secret_sync(conn, cipher))
    return values


def _with_database(config: Config, action) -> int:  # type: ignore[no-untyped-def]
    from app.db.migrate import migrate
    from app.db.target import database_for_command
    from app.local_secrets import with_local_secrets

    config = with_local_secrets(config, sessions=False)
    with database_for_command(config) as url:
        migrate(url)  # idempotent; a fresh machine has no settings table yet
        with psycopg.connect(url) as conn:
            return int(action(conn, config))


def get_settings(config: Config, args: argparse.Namespace) -> int:
    if args.name is not None and args.name not in ALL_NAMES:
        print(
            f"unknown setting {args.name!r}; settings are {', '.join(ALL_NAMES)}", file=sys.stderr
        )
        return 2

    def show(conn: psycopg.Connection, config: Config) -> int:
        values = _current(conn, config)
        if args.name is not None:
            print(values[args.name])
            return 0
        width = max(len(n) for n in ALL_NAMES)
        for name in ALL_NAMES:
            print(f"{name.ljust(width)}  {values[name]}")
        return 0

    return _with_database(config, show)


def set_settings(config: Config, args: argparse.Namespace) -> int:
    from app.klaviyo.settings import SettingError, coerce_setting

    name, value = args.name, args.value
    if name == "api_key":
        print(
            "api_key is set by connecting, which verifies it with Klaviyo first: "
            'POST /admin/klaviyo/connect {"apiKey": ...}',
            file=sys.stderr,
        )
        return 2
    if name == "webhook_secret":
        return _with_database(config, lambda conn, cfg: _store_webhook_secret(conn, cfg, value))
    try:
        coerce_setting(name, value)
    except SettingError as exc:
        print(str(exc), file=sys.stderr)
        return 2

    def store(conn: psycopg.Connection, config: Config) -> int:
        from app.klaviyo.settings import set_setting_sync

        set_setting_sync(conn, name, value)
        print(f"{name} = {_current(conn, config)[name]}")
        return 0

    return _with_database(config, store)


def _store_webhook_secret(conn: psycopg.Connection, config: Config, value: str) -> int:
    from app.klaviyo.credentials import store_webhook_secret_sync
    from app.klaviyo.secrets import SecretCipher

    secret = sys.stdin.readline().strip() if value == "-" else value.strip()
    cipher = SecretCipher.from_keys(config.app_encryption_keys)
    store_webhook_secret_sync(conn, cipher, secret or None)
    print(f"webhook_secret = {_masked(secret or None)}")
    return 0
