"""POST /webhooks/klaviyo: verify, store in the inbox, answer; the worker applies it later."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
    Delivery,
    MalformedDelivery,
    decode_delivery,
    inbox_rows,
    store_delivery,
)
from app.klaviyo.webhooks.jobs import APPLY_LOCK, APPLY_TASK_NAME
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


# The switches and the secret in one round trip, when the ones last read cannot be used.
_INGEST_SETTINGS = """
SELECT sync_enabled AND webhook_ingest_enabled, webhook_secret_encrypted
FROM klaviyo.settings WHERE singleton
"""


class IngestSettings(msgspec.Struct, frozen=True):
    """The switches and the webhook secret as read at one moment; `fresh` when read by the
    request at hand."""

    enabled: bool
    ciphertext: bytes | None
    secret: str | None
    fresh: bool = True


class _SettingsCache:
    """The ingest settings last read, so a delivery costs one round trip: the statement that
    stores it checks they are still current (see `store_delivery`). A secret is decrypted once
    per ciphertext; a rotated secret is a new ciphertext."""

    def __init__(self) -> None:
        self._last: IngestSettings | None = None

    async def get(
        self, pool: AsyncConnectionPool, cipher: Any, *, fresh: bool = False
    ) -> IngestSettings:
        last = self._last
        # Switched off is read again each time: switching back on takes effect at once.
        if not fresh and last is not None and last.enabled:
            return msgspec.structs.replace(last, fresh=False)
        async with _autocommit(pool) as conn:
            row = await (await conn.execute(_INGEST_SETTINGS)).fetchone()
        if row is None:  # no settings row yet: the defaults, ingest on and no secret
            settings = IngestSettings(enabled=True, ciphertext=None, secret=None)
        else:
            ciphertext = bytes(row[1]) if row[1] is not None else None
            if last is not None and ciphertext == last.ciphertext:
                secret = last.secret
            else:
                secret = cipher.decrypt(ciphertext) if ciphertext is not None else None
            settings = IngestSettings(enabled=bool(row[0]), ciphertext=ciphertext, secret=secret)
        self._last = settings
        return settings


_settings = _SettingsCache()


@asynccontextmanager
async def _autocommit(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection]:
    """A pooled connection in autocommit, for single statements: each is its own transaction,
    durable when it returns, and none costs a BEGIN or COMMIT round trip."""
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            await conn.set_autocommit(False)


def _switched_off() -> ApiError:
    return ApiError(404, "NOT_FOUND", "Webhook ingest is switched off.")


async def _ingest(
    pool: AsyncConnectionPool,
    request: Request,
    body: bytes,
    settings: IngestSettings,
    received_at: datetime,
) -> tuple[Delivery, int | None]:
    """Verify, then decode and store; answers the delivery and how many of its items were new,
    or None when `settings` changed before the delivery could be stored (nothing stored)."""
    headers = request.headers  # built from the scope on each access
    verify_signed_delivery(
        secret=settings.secret,
        body=body,
        signature=headers.get(SIGNATURE_HEADER),
        timestamp=headers.get(TIMESTAMP_HEADER),
        now=received_at,
        tolerance_s=request.app.state.config.webhook_tolerance_s,
    )
    delivery = decode_delivery(body)
    header_id = headers.get(WEBHOOK_ID_HEADER)
    check_webhook_id(header_id, delivery.meta.klaviyo_webhook_id if delivery.meta else None)
    assert settings.ciphertext is not None  # verified: a secret is stored
    rows = inbox_rows(delivery, header_id, received_at)
    try:
        async with _autocommit(pool) as conn:
            new = await store_delivery(
                conn,
                rows,
                ciphertext=settings.ciphertext,
                apply_task=APPLY_TASK_NAME,
                apply_lock=APPLY_LOCK,
            )
    except psycopg.errors.DataError as exc:  # e.g. \u0000, which jsonb cannot hold
        raise MalformedDelivery(f"The payload cannot be stored: {exc}") from None
    return delivery, new


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
    """Klaviyo system webhook receiver (consent topics). Signed by Klaviyo; no session.

    Answered once the delivery is committed to the inbox, with the apply job enqueued in the
    same statement; the worker applies it."""
    state = request.app.state
    # The connection is taken only for the statements, not while the body comes in.
    settings = await _settings.get(pool, state.cipher)
    if not settings.enabled:
        raise _switched_off()
    body = await read_limited_body(request, state.config.webhook_max_body_bytes)
    received_at = datetime.now(UTC)
    try:
        try:
            delivery, new = await _ingest(pool, request, body, settings, received_at)
        except (DeliveryRefused, MalformedDelivery):
            if settings.fresh:
                raise
            new = None
        if new is None:
            # The settings read before this request are not the stored ones any more (a
            # rotated secret, a switch): everything once more against those.
            settings = await _settings.get(pool, state.cipher, fresh=True)
            if not settings.enabled:
                raise _switched_off() from None
            delivery, new = await _ingest(pool, request, body, settings, received_at)
            if new is None:
                raise ApiError(
                    503, "SERVICE_UNAVAILABLE", "The webhook settings changed meanwhile."
                )
    except DeliveryRefused as refusal:
        raise _refuse(refusal) from None
    except MalformedDelivery as exc:
        raise ApiError(400, "BAD_REQUEST", str(exc)) from None
    return ok(WebhookReceipt(received=len(delivery.data), new=new))
