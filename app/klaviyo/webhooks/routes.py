"""POST /webhooks/klaviyo: verify, store in the inbox, answer; the worker applies it later."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import psycopg
import structlog
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK
from psycopg_pool import AsyncConnectionPool

from app.auth.guards import SIGNATURE_AUTH_OPT
from app.http.envelope import Envelope, ok
from app.http.errors import ApiError
from app.klaviyo.webhooks.inbox import (
    MalformedDelivery,
    decode_delivery,
    inbox_rows,
    store_inbox_rows,
)
from app.klaviyo.webhooks.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_ID_HEADER,
    DeliveryRefused,
    check_webhook_id,
    verify_signed_delivery,
)

log = structlog.get_logger(__name__)

WEBHOOK_PATH = "/webhooks/klaviyo"


class WebhookReceipt(msgspec.Struct, frozen=True):
    """`received`: items in the delivery; `new`: items not stored before (0 for a redelivery)."""

    received: int
    new: int


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to pass `limit` bytes."""
    too_large = ApiError(413, "PAYLOAD_TOO_LARGE", f"The body may not exceed {limit} bytes.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(refusal: DeliveryRefused) -> ApiError:
    log.warning("webhook_delivery_refused", reason=refusal.reason)
    return ApiError(401, "UNAUTHORIZED", refusal.message)


# The switches and the secret in one round trip: the endpoint is Klaviyo's hot path.
_INGEST_SETTINGS = """
SELECT sync_enabled AND webhook_ingest_enabled, webhook_secret_encrypted
FROM klaviyo.settings WHERE singleton
"""


class _SecretCache:
    """Decrypts a stored secret once per ciphertext; a rotated secret is a new ciphertext."""

    def __init__(self) -> None:
        self._ciphertext: bytes | None = None
        self._secret: str | None = None

    def secret(self, ciphertext: bytes | None, cipher: Any) -> str | None:
        if ciphertext is None:
            return None
        ciphertext = bytes(ciphertext)
        if ciphertext != self._ciphertext:
            self._secret, self._ciphertext = cipher.decrypt(ciphertext), ciphertext
        return self._secret


_secrets = _SecretCache()


async def _ingest_settings(conn: Any, cipher: Any) -> tuple[bool, str | None]:
    row = await (await conn.execute(_INGEST_SETTINGS)).fetchone()
    if row is None:  # no settings row yet: the defaults, ingest on and no secret
        return True, None
    return bool(row[0]), _secrets.secret(row[1], cipher)


@post(
    WEBHOOK_PATH,
    status_code=HTTP_200_OK,
    opt=SIGNATURE_AUTH_OPT,
    tags=["Klaviyo webhooks"],
    summary="Receive Klaviyo system webhooks (consent topics)",
)
async def receive_klaviyo_webhook(
    request: Request, pool: NamedDependency[AsyncConnectionPool]
) -> Envelope[WebhookReceipt]:
    """Klaviyo system webhook receiver (consent topics). Signed by Klaviyo; no session."""
    state = request.app.state
    config = state.config
    async with pool.connection() as conn:
        # Two statements, each its own transaction: the insert is durable when it returns.
        await conn.set_autocommit(True)
        try:
            enabled, secret = await _ingest_settings(conn, state.cipher)
            if not enabled:
                raise ApiError(404, "NOT_FOUND", "Webhook ingest is switched off.")
            body = await read_limited_body(request, config.webhook_max_body_bytes)
            received_at = datetime.now(UTC)
            try:
                verify_signed_delivery(
                    secret=secret,
                    body=body,
                    signature=request.headers.get(SIGNATURE_HEADER),
                    timestamp=request.headers.get(TIMESTAMP_HEADER),
                    now=received_at,
                    tolerance_s=config.webhook_tolerance_s,
                )
                delivery = decode_delivery(body)
                header_id = request.headers.get(WEBHOOK_ID_HEADER)
                meta_id = delivery.meta.klaviyo_webhook_id if delivery.meta else None
                check_webhook_id(header_id, meta_id)
            except DeliveryRefused as refusal:
                raise _refuse(refusal) from None
            except MalformedDelivery as exc:
                raise ApiError(400, "BAD_REQUEST", str(exc)) from None
            try:
                new = await store_inbox_rows(conn, inbox_rows(delivery, header_id, received_at))
            except psycopg.errors.DataError as exc:  # e.g. \u0000, which jsonb cannot hold
                raise ApiError(400, "BAD_REQUEST", f"The payload cannot be stored: {exc}") from None
        finally:
            await conn.set_autocommit(False)
    trigger = getattr(state, "webhook_apply_trigger", None)
    if new and trigger is not None:
        trigger.kick()
    return ok(WebhookReceipt(received=len(delivery.data), new=new))
