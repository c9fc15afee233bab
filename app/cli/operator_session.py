"""Runs an operator command's work on a short-lived pool and turns failures into exit codes.

Exit codes of the operator commands: 0 done, 2 bad input, 1 an operational failure (database
unreachable or not migrated, a stored secret unreadable, a timeout).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.config import Config, ConfigError
from app.logs import redact_text

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

# A one-shot command should say quickly that the database is down, not wait like a server.
_CONNECT_TIMEOUT_S = 10.0


class BadInput(Exception):
    """The operator's input cannot be used; the message says what is wrong with it."""


class OperationFailed(Exception):
    """The command could not do its work; the message says why and what to try."""


Work = Callable[[AsyncConnectionPool, Config], Awaitable[int]]


def run_on_database(config: Config, work: Work) -> int:
    """Run `work(pool, config)` against the service's database; answer the exit code."""
    from app.db.target import database_for_command
    from app.http.errors import ApiError
    from app.local_secrets import with_local_secrets

    try:
        config = with_local_secrets(config, sessions=False)
        with database_for_command(config) as url:
            return asyncio.run(_with_pool(url, config, work))
    except BadInput as exc:
        return fail(str(exc), EXIT_BAD_INPUT)
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction):
        return fail(
            "the database has no Klaviyo schema (or an old one): run `python -m app migrate`"
        )
    except (psycopg.OperationalError, PoolTimeout) as exc:
        return fail(f"cannot reach the database: {redact_text(str(exc)).strip()}")
    except psycopg.Error as exc:
        return fail(f"the database refused the command: {redact_text(str(exc)).strip()}")
    except ApiError as exc:
        # ValidationFailed and friends: the same input checks as the admin endpoints.
        return fail(exc.message, EXIT_BAD_INPUT if 400 <= exc.status < 500 else EXIT_FAILED)
    except (OperationFailed, ConfigError) as exc:
        return fail(str(exc))


async def _with_pool(url: str, config: Config, work: Work) -> int:
    # One plain connection first: a dead database answers its own error at once, instead of
    # the pool retrying in the background until its timeout.
    probe = await psycopg.AsyncConnection.connect(url, connect_timeout=int(_CONNECT_TIMEOUT_S))
    await probe.close()
    pool = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=2,
        open=False,
        timeout=_CONNECT_TIMEOUT_S,
        kwargs={"application_name": "klaviyo-sync-cli"},
    )
    await pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
    try:
        return await work(pool, config)
    finally:
        await pool.close()


def require_module(config: Config) -> None:
    """The sync commands exist only with the module on, as its admin endpoints do."""
    if not config.klaviyo_module_enabled:
        raise OperationFailed(
            "the Klaviyo module is disabled (KLAVIYO_MODULE_ENABLED=false): nothing is synced"
        )


def fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def print_json(value: object) -> None:
    """Machine-readable output: the admin API's camelCase shapes, ISO timestamps."""
    print(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())
