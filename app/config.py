"""Process configuration: read once from the environment, typed, and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import msgspec

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / ".data"
DEFAULT_ROLES_FILE = REPO_ROOT / "app" / "auth" / "roles.json"


class ConfigError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


_Number = TypeVar("_Number", int, float)


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    port = _int(environ, name, default)
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name} must be a port number from 1 to 65535, got {port}")
    return port


def _positive(value: _Number, name: str) -> _Number:
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {value!r}")
    return value


# Addresses that mean "every interface": no page is served from them as an origin.
ANY_ADDRESSES = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - compared against


def default_trusted_origins(host: str, port: int) -> tuple[str, ...]:
    """The origins of the admin pages this server serves itself: wherever it listens."""
    hosts = ["127.0.0.1", "localhost"]
    if host not in ANY_ADDRESSES and host not in hosts:
        hosts.append(f"[{host}]" if ":" in host else host)
    return tuple(f"http://{name}:{port}" for name in hosts)


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the processes of the service take from their environment."""

    database_url: str | None
    data_dir: Path
    host: str
    port: int
    api_workers: int
    klaviyo_base_url: str
    sandbox_mode: bool
    sandbox_port: int
    klaviyo_timeout_s: float
    klaviyo_module_enabled: bool
    better_auth_secret: str
    trusted_origins: tuple[str, ...]
    roles_file: Path
    app_encryption_keys: tuple[str, ...]
    log_format: str
    log_level: str
    db_pool_min: int
    db_pool_max: int
    drain_tick_s: float
    drain_lease_s: int
    drain_batch_size: int
    max_attempts: int
    backfill_age_s: int
    event_retention_days: int
    klaviyo_rate_budget: bool
    drain_slice_s: float
    drain_backoff_base_s: float
    drain_backoff_cap_s: float
    worker_concurrency: int
    drain_parallel: int
    webhook_tolerance_s: float
    webhook_max_body_bytes: int
    consent_poll_page_size: int
    catalog_job_deadline_s: float
    store_url: str | None

    def listening_on(self, host: str, port: int) -> Config:
        """This config for a server on host:port; default trusted origins move along with it,
        origins given in TRUSTED_ORIGINS stay as given."""
        origins = self.trusted_origins
        if origins == default_trusted_origins(self.host.strip(), self.port):
            origins = default_trusted_origins(host.strip(), port)
        return msgspec.structs.replace(self, host=host, port=port, trusted_origins=origins)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        origins = tuple(o.strip() for o in env.get("TRUSTED_ORIGINS", "").split(",") if o.strip())
        keys = tuple(k.strip() for k in env.get("APP_ENCRYPTION_KEY", "").split(",") if k.strip())
        host = env.get("HOST", "127.0.0.1")
        port = _port(env, "PORT", 8000)
        log_format = env.get("LOG_FORMAT", "console").strip().lower()
        if log_format not in {"console", "json"}:
            raise ConfigError(f"LOG_FORMAT must be console or json, got {log_format!r}")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env.get("DATA_DIR") or DEFAULT_DATA_DIR),
            host=host,
            port=port,
            # API processes behind one port (uvicorn workers); each has its own pool.
            api_workers=_positive(_int(env, "API_WORKERS", 1), "API_WORKERS"),
            klaviyo_base_url=env.get("KLAVIYO_BASE_URL", "https://a.klaviyo.com").rstrip("/"),
            # With no Klaviyo address given, `make run` serves the sandbox and points at it.
            sandbox_mode=_flag(env, "KLAVIYO_SANDBOX", not env.get("KLAVIYO_BASE_URL")),
            sandbox_port=_port(env, "SANDBOX_PORT", 8100),
            klaviyo_timeout_s=_float(env, "KLAVIYO_TIMEOUT_S", 10.0),
            klaviyo_module_enabled=_flag(env, "KLAVIYO_MODULE_ENABLED", True),
            better_auth_secret=env.get("BETTER_AUTH_SECRET", ""),
            trusted_origins=origins or default_trusted_origins(host.strip(), port),
            roles_file=Path(env.get("KLAVIYO_ROLES_FILE") or DEFAULT_ROLES_FILE),
            app_encryption_keys=keys,
            log_format=log_format,
            log_level=env.get("LOG_LEVEL", "info").strip().lower(),
            db_pool_min=_int(env, "DB_POOL_MIN", 1),
            db_pool_max=_int(env, "DB_POOL_MAX", 10),
            drain_tick_s=_float(env, "KLAVIYO_DRAIN_TICK_S", 1.0),
            drain_lease_s=_int(env, "KLAVIYO_DRAIN_LEASE_S", 60),
            drain_batch_size=_int(env, "KLAVIYO_DRAIN_BATCH_SIZE", 1000),
            max_attempts=_int(env, "KLAVIYO_MAX_ATTEMPTS", 8),
            backfill_age_s=_int(env, "KLAVIYO_BACKFILL_AGE_S", 86400),
            event_retention_days=_int(env, "KLAVIYO_EVENT_RETENTION_DAYS", 30),
            # Off only against a Klaviyo that enforces no limits (the sandbox with limits off).
            klaviyo_rate_budget=_flag(env, "KLAVIYO_RATE_BUDGET", True),
            # How long one drain tick may keep pushing before it hands the worker back.
            drain_slice_s=_positive(
                _float(env, "KLAVIYO_DRAIN_SLICE_S", 10.0), "KLAVIYO_DRAIN_SLICE_S"
            ),
            drain_backoff_base_s=_positive(
                _float(env, "KLAVIYO_DRAIN_BACKOFF_BASE_S", 2.0), "KLAVIYO_DRAIN_BACKOFF_BASE_S"
            ),
            drain_backoff_cap_s=_positive(
                _float(env, "KLAVIYO_DRAIN_BACKOFF_CAP_S", 600.0), "KLAVIYO_DRAIN_BACKOFF_CAP_S"
            ),
            worker_concurrency=_positive(
                _int(env, "KLAVIYO_WORKER_CONCURRENCY", 4), "KLAVIYO_WORKER_CONCURRENCY"
            ),
            # Batches one event drain keeps in flight, so claiming overlaps Klaviyo's answers.
            drain_parallel=_positive(
                _int(env, "KLAVIYO_DRAIN_PARALLEL", 4), "KLAVIYO_DRAIN_PARALLEL"
            ),
            # How far Klaviyo-Timestamp may lie from now before a delivery counts as a replay.
            webhook_tolerance_s=_positive(
                _float(env, "KLAVIYO_WEBHOOK_TOLERANCE_S", 300.0), "KLAVIYO_WEBHOOK_TOLERANCE_S"
            ),
            webhook_max_body_bytes=_positive(
                _int(env, "KLAVIYO_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024),
                "KLAVIYO_WEBHOOK_MAX_BODY_BYTES",
            ),
            consent_poll_page_size=_positive(
                _int(env, "KLAVIYO_CONSENT_POLL_PAGE_SIZE", 100), "KLAVIYO_CONSENT_POLL_PAGE_SIZE"
            ),
            # A catalog bulk job not complete this long after submission is timed out, its rows
            # retried.
            catalog_job_deadline_s=_positive(
                _float(env, "KLAVIYO_CATALOG_JOB_DEADLINE_S", 300.0),
                "KLAVIYO_CATALOG_JOB_DEADLINE_S",
            ),
            # The storefront, for catalog items of products without their own url.
            store_url=(env.get("KLAVIYO_STORE_URL") or "").strip().rstrip("/") or None,
        )
