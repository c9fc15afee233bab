"""Assembles the sandbox ASGI app and serves it with uvicorn."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
import uvicorn
from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.sandbox import (
    accounts,
    bulk_profiles,
    catalog,
    catalog_jobs,
    consent,
    control,
    coupons,
    events,
    profiles,
)
from app.sandbox.config import SandboxConfig
from app.sandbox.gateway import FaultGateway, api_conventions
from app.sandbox.jsonapi import ApiError, error_response
from app.sandbox.runtime import SandboxRuntime

log = structlog.get_logger("app.sandbox.server")
MAX_BODY_BYTES = 20 * 1024 * 1024  # above Klaviyo's 5 MB so the sandbox answers 413 itself


def _api_error(_: Request, exc: ApiError) -> Response:
    return error_response(exc)


def _http_error(request: Request, exc: HTTPException) -> Response:
    codes = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
    status = exc.status_code
    detail = "Not found." if status == 404 else str(exc.detail)
    return error_response(ApiError(status, codes.get(status, "invalid"), detail))


def _server_error(_: Request, exc: Exception) -> Response:
    log.exception("sandbox_handler_failed", error=type(exc).__name__)
    return error_response(ApiError(500, "error", "A server error occurred."))


def create_sandbox_app(config: SandboxConfig) -> Any:
    """The sandbox as an ASGI app: Litestar routes behind the fault gateway."""
    runtime = SandboxRuntime(config)
    routes = [
        *accounts.ROUTES,
        *profiles.ROUTES,
        *bulk_profiles.ROUTES,
        *consent.ROUTES,
        *events.ROUTES,
        *catalog.ROUTES,
        *catalog_jobs.ROUTES,
        *coupons.ROUTES,
        *control.ROUTES,
    ]
    litestar_app = Litestar(
        route_handlers=routes,
        middleware=[api_conventions(runtime)],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        on_startup=[runtime.webhooks.start],
        on_shutdown=[runtime.webhooks.stop],
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
        debug=False,
    )
    litestar_app.state.runtime = runtime
    gateway = FaultGateway(litestar_app, runtime)
    gateway.runtime = runtime
    return gateway


def protocol_for(runtime: SandboxRuntime) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, registering each open transport so faults can reset it."""

    class ResettableH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self.client:
                runtime.transports[self.client] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client:
                runtime.transports.pop(self.client, None)
            super().connection_lost(exc)

    return ResettableH11Protocol


def serve(host: str, port: int, config: SandboxConfig) -> None:
    """Run the sandbox until interrupted."""
    app = create_sandbox_app(config)
    log.info(
        "sandbox_starting",
        host=host,
        port=port,
        rate_limits=config.rate_limits,
        accounts=len(config.api_keys),
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=protocol_for(app.runtime),
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
