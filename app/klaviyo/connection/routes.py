"""GET /admin/klaviyo/status, POST and DELETE /admin/klaviyo/connect."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post
from psycopg_pool import AsyncConnectionPool

from app.http.envelope import Envelope, ok
from app.klaviyo.connection import service
from app.klaviyo.connection.schemas import (
    ConnectRequest,
    KlaviyoConnectionStatusResponse,
    KlaviyoConnectResponse,
    KlaviyoDisconnectResponse,
)
from app.klaviyo.secrets import SecretCipher


class ConnectionController(Controller):
    path = "/admin/klaviyo"
    tags = ["klaviyo: connection"]

    @get("/status", summary="Connection and configuration status (masked; never the key)")
    async def status(
        self, pool: AsyncConnectionPool, cipher: SecretCipher
    ) -> Envelope[KlaviyoConnectionStatusResponse]:
        return ok(await service.connection_status(pool, cipher))

    @post("/connect", status_code=200, summary="Verify an API key against Klaviyo and store it")
    async def connect(
        self,
        request: Request,
        data: ConnectRequest,
        pool: AsyncConnectionPool,
        cipher: SecretCipher,
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
        self, request: Request, pool: AsyncConnectionPool
    ) -> Envelope[KlaviyoDisconnectResponse]:
        await service.disconnect(pool)
        request.app.state.klaviyo_clients.invalidate()
        return ok(KlaviyoDisconnectResponse(disconnected=True))
