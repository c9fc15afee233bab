"""Structured logging: JSON in production, readable in a terminal, secrets always redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# Klaviyo private keys start with pk_; a key pasted into an error message must not reach a log.
_PRIVATE_KEY = re.compile(r"pk_[A-Za-z0-9_\-]{4,}")
_BEARER = re.compile(r"(?i)(bearer|klaviyo-api-key)\s+[^\s,;\"']+")
_SECRET_KEYS = {
    "authorization",
    "api_key",
    "apikey",
    "secret",
    "webhook_secret",
    "token",
    "session_token",
    "cookie",
    "set-cookie",
    "password",
    "x-api-key",
    "better_auth_secret",
    "encryption_key",
}
# Names that say "secret" in any spelling: `klaviyo_api_key`, `X-Webhook-Secret`, `db_password`.
_SECRET_NAME = re.compile(
    r"(?i)(^|[_\-.])(secret|password|passwd|token|authorization|cookie|"
    r"api[_\-]?key|private[_\-]?key|encryption[_\-]?key)s?($|[_\-.])"
)
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    text = _PRIVATE_KEY.sub("pk_[redacted]", text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def _secret_name(key: str) -> bool:
    return key.lower() in _SECRET_KEYS or _SECRET_NAME.search(key) is not None


def _redact_value(key: str, value: Any) -> Any:
    if key and _secret_name(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else (an exception, a request object) is rendered through its repr: redact that.
    text = repr(value)
    redacted = redact_text(text)
    return value if redacted == text else redacted


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> dict[str, Any]:
    """structlog processor: the last step before rendering, so nothing bypasses it."""
    return {key: _redact_value(key, value) for key, value in event_dict.items()}


def configure_logging(log_format: str = "console", level: str = "info") -> None:
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    renderer: Any
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library; keep them quiet unless they warn.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(message)s")
