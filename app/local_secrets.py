"""Secrets for a fresh machine: generated once under the data directory, for local use only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import msgspec
import structlog
from cryptography.fernet import Fernet

from app.config import Config, ConfigError

log = structlog.get_logger(__name__)

BETTER_AUTH_SECRET_FILE = "better_auth_secret"  # noqa: S105 - a file name
ENCRYPTION_KEY_FILE = "app_encryption_key"


def _secrets_dir(config: Config) -> Path:
    directory = config.data_dir / "secrets"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory


def _read_or_create(path: Path, generate: object, env_name: str, *, may_generate: bool) -> str:
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            log.warning("local_secret_in_use", setting=env_name, path=str(path))
            return value
    if not may_generate:
        raise ConfigError(
            f"{env_name} is unset: set it in the environment, with the same value on every "
            "process (secrets are generated only for local use, with the embedded PostgreSQL "
            "or the sandbox)"
        )
    value = generate()  # type: ignore[operator]
    # O_EXCL: two processes starting at once must not write two different secrets.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    log.warning(
        "local_secret_generated",
        setting=env_name,
        path=str(path),
        note="for local use only; set the environment variable in production",
    )
    return value


def with_local_secrets(config: Config, *, sessions: bool = True) -> Config:
    """The config with BETTER_AUTH_SECRET / APP_ENCRYPTION_KEY filled from files when unset.

    A missing file is generated only on a local set-up (embedded PostgreSQL or the sandbox): a
    deployment on its own database talking to Klaviyo must share one value across processes,
    which a per-machine file cannot give, so it gets a ConfigError naming the variable.
    `sessions=False` is for processes that never check a session (the worker).
    """
    may_generate = not config.database_url or config.sandbox_mode
    changes: dict[str, object] = {}
    if sessions and not config.better_auth_secret:
        path = _secrets_dir(config) / BETTER_AUTH_SECRET_FILE
        changes["better_auth_secret"] = _read_or_create(
            path, lambda: secrets.token_urlsafe(48), "BETTER_AUTH_SECRET", may_generate=may_generate
        )
    if not config.app_encryption_keys:
        path = _secrets_dir(config) / ENCRYPTION_KEY_FILE
        key = _read_or_create(
            path,
            lambda: Fernet.generate_key().decode(),
            "APP_ENCRYPTION_KEY",
            may_generate=may_generate,
        )
        changes["app_encryption_keys"] = (key,)
    return msgspec.structs.replace(config, **changes) if changes else config
