"""Secrets never reach a rendered log line, in JSON or in the console format."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import structlog

from app.logs import REDACTED, configure_logging

PRIVATE_KEY = "pk_live_0123456789abcdefABCDEF"
SESSION_VALUE = "sessiontoken0123456789.c2lnbmF0dXJlLXZhbHVlLTEyMzQ1Njc4OTA="
WEBHOOK_SECRET = "whsec_never_print_this_value"
PASSWORD = "correct-horse-battery-staple"
OTHER_KEY = "sk_not_prefixed_like_klaviyo_42"
SECRETS = (PRIVATE_KEY, SESSION_VALUE, WEBHOOK_SECRET, PASSWORD, OTHER_KEY)


@pytest.fixture(params=["json", "console"])
def rendered(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The real processor chain of `configure_logging`, rendering into a buffer."""
    buffer = io.StringIO()
    configure_logging(request.param, "debug")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    yield buffer
    configure_logging("console", "info")


def _log_everything() -> None:
    log = structlog.get_logger("redaction-test")
    log.info(
        "outgoing_request",
        headers={
            "Authorization": f"Klaviyo-API-Key {PRIVATE_KEY}",
            "Cookie": f"better-auth.session_token={SESSION_VALUE}",
            "revision": "2026-07-15",
        },
        account_id="ABC123",
    )
    log.info("incoming_request", authorization=f"Bearer {SESSION_VALUE}")
    log.warning("klaviyo_said", detail=f"bad header Authorization: Klaviyo-API-Key {PRIVATE_KEY}")
    log.info(f"connecting with {PRIVATE_KEY}")
    log.info(
        "settings_loaded",
        webhook_secret=WEBHOOK_SECRET,
        klaviyo_api_key=OTHER_KEY,
        db_password=PASSWORD,
        nested={"X-Webhook-Secret": WEBHOOK_SECRET, "items": [{"apiKey": OTHER_KEY}]},
    )
    log.error("connect_failed", error=RuntimeError(f"Klaviyo refused {PRIVATE_KEY}"))
    try:
        raise ValueError(f"the key {PRIVATE_KEY} was rejected")
    except ValueError:
        log.exception("connect_crashed")


def test_no_secret_survives_rendering(rendered):
    _log_everything()

    text = rendered.getvalue()
    for secret in SECRETS:
        assert secret not in text
    assert REDACTED in text
    # What is not secret is still there to read.
    for kept in ("ABC123", "2026-07-15", "connect_crashed", "ValueError", "Traceback"):
        assert kept in text


def test_every_line_was_rendered(rendered):
    _log_everything()

    events = (
        "outgoing_request",
        "incoming_request",
        "klaviyo_said",
        "connecting with",
        "settings_loaded",
        "connect_failed",
        "connect_crashed",
    )
    for event in events:
        assert event in rendered.getvalue()
