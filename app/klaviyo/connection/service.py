"""Connect, disconnect and status: the live probe of a key and what is stored afterwards."""

from __future__ import annotations

import httpx
import structlog
from psycopg_pool import AsyncConnectionPool

from app.http.errors import ApiError, UpstreamFailed, ValidationFailed
from app.klaviyo.client import KlaviyoApiError, KlaviyoClient, KlaviyoUnusableAnswer
from app.klaviyo.connection.schemas import (
    ConnectionConfiguration,
    KlaviyoConnectionStatusResponse,
    KlaviyoConnectResponse,
    PerSurfaceEnabled,
)
from app.klaviyo.credentials import (
    delete_credential,
    load_credential,
    load_webhook_secret,
    store_credential,
)
from app.klaviyo.secrets import SecretCipher, SecretUnreadable
from app.klaviyo.settings import load_settings

log = structlog.get_logger(__name__)

API_KEY_MIN = 20
API_KEY_MAX = 200
_UPSTREAM_CODES = {
    401: "KLAVIYO_UNAUTHORIZED",
    403: "KLAVIYO_FORBIDDEN",
    429: "KLAVIYO_RATE_LIMITED",
}


def mask_api_key(api_key: str) -> str:
    """At most the `pk_` prefix and the last four characters."""
    prefix = "pk_" if api_key.startswith("pk_") else ""
    return f"{prefix}****{api_key[-4:]}"


def checked_api_key(raw: str) -> str:
    key = raw.strip()
    if not API_KEY_MIN <= len(key) <= API_KEY_MAX:
        raise ValidationFailed.field(
            "apiKey",
            f"apiKey must be {API_KEY_MIN}..{API_KEY_MAX} characters after trimming, "
            f"got {len(key)}",
        )
    return key


def _unusable(status: int, reason: str) -> ApiError:
    return UpstreamFailed(
        f"Klaviyo answered /api/accounts with {status} but {reason}; the key was not stored. "
        "Check KLAVIYO_BASE_URL and try again.",
        "KLAVIYO_BAD_RESPONSE",
    )


def _upstream_error(exc: KlaviyoApiError) -> ApiError:
    detail = exc.detail or exc.title or "no detail given"
    if exc.status >= 500:
        return UpstreamFailed(f"Klaviyo failed with {exc.status} while verifying the key: {detail}")
    if exc.status < 400:
        # Only a rejection is passed on; anything else that is not an account is Klaviyo's fault.
        return _unusable(exc.status, f"no usable account ({detail})")
    code = _UPSTREAM_CODES.get(exc.status, "KLAVIYO_REJECTED")
    return ApiError(exc.status, code, f"Klaviyo rejected the API key ({exc.status}): {detail}")


async def probe_account(client: KlaviyoClient, timeout_s: float) -> str:
    """The id of the account the key belongs to; raises the ApiError the client should see."""
    try:
        account = await client.get_account()
    except KlaviyoApiError as exc:
        log.warning("klaviyo_connect_rejected", klaviyo_status=exc.status, klaviyo_code=exc.code)
        raise _upstream_error(exc) from None
    except KlaviyoUnusableAnswer as exc:
        log.warning("klaviyo_connect_unusable_answer", klaviyo_status=exc.status, reason=exc.reason)
        raise _unusable(exc.status, exc.reason) from None
    except httpx.TimeoutException:
        log.warning("klaviyo_connect_timeout", timeout_s=timeout_s)
        raise UpstreamFailed(
            f"Klaviyo did not answer within {timeout_s:g}s; try again.", "KLAVIYO_TIMEOUT"
        ) from None
    except httpx.TransportError as exc:
        log.warning("klaviyo_connect_unreachable", error_type=type(exc).__name__)
        raise UpstreamFailed(
            f"Klaviyo could not be reached ({type(exc).__name__}); try again.",
            "KLAVIYO_UNREACHABLE",
        ) from None
    return str(account["id"])


async def connect(
    pool: AsyncConnectionPool,
    cipher: SecretCipher,
    *,
    raw_api_key: str,
    base_url: str,
    http: httpx.AsyncClient,
    timeout_s: float,
) -> KlaviyoConnectResponse:
    api_key = checked_api_key(raw_api_key)
    async with pool.connection() as conn:
        revision = (await load_settings(conn)).revision

    # No database connection is held while Klaviyo answers.
    account_id = await probe_account(KlaviyoClient(base_url, api_key, revision, http), timeout_s)

    async with pool.connection() as conn:
        credential = await store_credential(conn, cipher, api_key=api_key, account_id=account_id)
    log.info("klaviyo_connected", account_id=account_id)
    return KlaviyoConnectResponse(
        connected=True, account_id=account_id, connected_at=credential.connected_at
    )


async def disconnect(pool: AsyncConnectionPool) -> bool:
    async with pool.connection() as conn:
        dropped = await delete_credential(conn)
    log.info("klaviyo_disconnected", had_credential=dropped)
    return dropped


def _unreadable(what: str, remedy: str) -> ApiError:
    return ApiError(
        500,
        "INTERNAL_SERVER_ERROR",
        f"The stored {what} cannot be decrypted with APP_ENCRYPTION_KEY: {remedy}, or put the "
        "key it was encrypted with back into APP_ENCRYPTION_KEY.",
    )


async def connection_status(
    pool: AsyncConnectionPool, cipher: SecretCipher
) -> KlaviyoConnectionStatusResponse:
    async with pool.connection() as conn:
        settings = await load_settings(conn)
        try:
            credential = await load_credential(conn, cipher)
        except SecretUnreadable:
            log.error("klaviyo_secret_unreadable", stored="api_key")
            raise _unreadable(
                "Klaviyo API key", "reconnect (POST /admin/klaviyo/connect)"
            ) from None
        try:
            webhook_secret = await load_webhook_secret(conn, cipher)
        except SecretUnreadable:
            log.error("klaviyo_secret_unreadable", stored="webhook_secret")
            raise _unreadable(
                "Klaviyo webhook secret",
                "set it again (`python -m app settings set webhook_secret`)",
            ) from None

    present = (("apiKey", credential), ("webhookSecret", webhook_secret))
    missing = [name for name, value in present if value is None]
    return KlaviyoConnectionStatusResponse(
        connected=credential is not None,
        account_id=credential.account_id if credential else None,
        connected_at=credential.connected_at if credential else None,
        api_key_masked=mask_api_key(credential.api_key) if credential else None,
        sync_enabled=settings.sync_enabled,
        per_surface_enabled=PerSurfaceEnabled(
            profile=settings.surface_enabled("profile"),
            event=settings.surface_enabled("event"),
            catalog=settings.surface_enabled("catalog"),
            coupon=settings.surface_enabled("coupon"),
            webhook_ingest=settings.surface_enabled("webhook_ingest"),
        ),
        configuration=ConnectionConfiguration(
            feed="missing" if missing else "configured",
            missing_keys=missing,
            revision=settings.revision,
        ),
    )
