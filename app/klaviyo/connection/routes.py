"""GET /admin/klaviyo/status, POST and DELETE /admin/klaviyo/connect."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from psycopg_pool import AsyncConnectionPool

from app.http.envelope import Envelope, ErrorBody, ok
from app.klaviyo.connection import service
from app.klaviyo.connection.schemas import (
    ConnectRequest,
    KlaviyoConnectionStatusResponse,
    KlaviyoConnectResponse,
    KlaviyoDisconnectResponse,
)
from app.klaviyo.secrets import SecretCipher


def _error(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


# Besides the errors of every admin route: what Klaviyo's answer to the live probe turns into.
# Any other 4xx Klaviyo answers is passed on with its status and KLAVIYO_REJECTED.
_CONNECT_ERRORS = {
    400: _error(
        "Malformed JSON (BAD_REQUEST) or an apiKey not 20..200 characters (VALIDATION_ERROR)"
    ),
    401: _error(
        "No valid session (UNAUTHORIZED), or Klaviyo rejected the key (KLAVIYO_UNAUTHORIZED)"
    ),
    403: _error(
        "The session lacks klaviyo:manage or a cookie request's Origin is untrusted (FORBIDDEN), "
        "or the key lacks the scope to read the account (KLAVIYO_FORBIDDEN)"
    ),
    429: _error("Klaviyo throttled the probe (KLAVIYO_RATE_LIMITED); retry after a moment"),
    502: _error(
        "Klaviyo failed (KLAVIYO_UNAVAILABLE, on its 5xx), did not answer in time "
        "(KLAVIYO_TIMEOUT), could not be reached (KLAVIYO_UNREACHABLE), or answered without a "
        "usable account (KLAVIYO_BAD_RESPONSE); nothing is stored"
    ),
}


class ConnectionController(Controller):
    path = "/admin/klaviyo"
    tags = ["klaviyo: connection"]

    @get("/status", summary="Connection and configuration status (masked; never the key)")
    async def status(
        self, pool: NamedDependency[AsyncConnectionPool], cipher: NamedDependency[SecretCipher]
    ) -> Envelope[KlaviyoConnectionStatusResponse]:
        return ok(await service.connection_status(pool, cipher))

    @post(
        "/connect",
        status_code=200,
        summary="Verify an API key against Klaviyo and store it",
        description="Klaviyo's rejection of the key during the live probe of /api/accounts is "
        "passed on with its status (401, 403, 429, other 4xx as KLAVIYO_REJECTED); a failure "
        "of Klaviyo itself answers 502.",
        responses=_CONNECT_ERRORS,
    )
    async def connect(
        self,
        request: Request,
        data: JSONBody[ConnectRequest],
        pool: NamedDependency[AsyncConnectionPool],
        cipher: NamedDependency[SecretCipher],
    ) -> Envelope[KlaviyoConnectResponse]:
        state = request.app.state
        result = await service.connect(
            pool,
            cipher,
            raw_api_key=data.api_key,
            base_url=state.config.klaviyo_base_url,
            http=state.klaviyo_http,
            timeout_s=state.config.klaviyo_timeout_s,
        )
        state.klaviyo_clients.invalidate()
        return ok(result)

    @delete("/connect", status_code=200, summary="Drop the stored credential")
    async def disconnect(
        self, request: Request, pool: NamedDependency[AsyncConnectionPool]
    ) -> Envelope[KlaviyoDisconnectResponse]:
        await service.disconnect(pool)
        request.app.state.klaviyo_clients.invalidate()
        return ok(KlaviyoDisconnectResponse(disconnected=True))
