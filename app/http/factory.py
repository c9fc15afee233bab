"""The Litestar app: health, OpenAPI, error envelopes, request logging, and the module plugins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import PluginProtocol
from psycopg_pool import AsyncConnectionPool

from app.auth.permissions import RolePermissions
from app.config import Config, ConfigError
from app.db.pool import open_pool
from app.http.envelope import ErrorBody
from app.http.errors import EXCEPTION_HANDLERS
from app.http.health import health
from app.http.request_log import RequestLogMiddleware
from app.klaviyo.client_provider import KlaviyoClientProvider
from app.klaviyo.outbox.module_switch import apply_module_config
from app.klaviyo.plugin import KlaviyoPlugin
from app.klaviyo.secrets import SecretCipher


def default_plugins(config: Config) -> list[PluginProtocol]:
    """The module plugin, unless KLAVIYO_MODULE_ENABLED=false."""
    return [KlaviyoPlugin()] if config.klaviyo_module_enabled else []


def _provide_pool(state: State) -> AsyncConnectionPool:
    return state.pool


def _provide_cipher(state: State) -> SecretCipher:
    return state.cipher


def _provide_config(state: State) -> Config:
    return state.config


@asynccontextmanager
async def _resources(app: Litestar) -> AsyncIterator[None]:
    """Opens what the app is not handed: the pool (for `serve`) and the Klaviyo HTTP client."""
    state = app.state
    config: Config = state.config
    owns_pool = state.pool is None
    if owns_pool:
        if not config.database_url:
            raise ConfigError("create_app needs a pool or config.database_url")
        state.pool = await open_pool(
            config.database_url, min_size=config.db_pool_min, max_size=config.db_pool_max
        )
        async with state.pool.connection() as conn:
            await apply_module_config(
                conn, enabled=config.klaviyo_module_enabled, backfill_age_s=config.backfill_age_s
            )
    state.klaviyo_http = httpx.AsyncClient(timeout=config.klaviyo_timeout_s)
    state.klaviyo_clients = KlaviyoClientProvider(
        config.klaviyo_base_url, state.klaviyo_http, state.cipher
    )
    try:
        yield
    finally:
        await state.klaviyo_http.aclose()
        if owns_pool:
            await state.pool.close()
            state.pool = None


# What every admin route can answer besides its success, all in the error envelope.
_ERROR_RESPONSES = {
    400: "Malformed JSON (BAD_REQUEST) or invalid input (VALIDATION_ERROR, with details)",
    401: "No valid session (UNAUTHORIZED)",
    403: "The session's roles lack the permission, or a cookie request's Origin is untrusted",
    500: "INTERNAL_SERVER_ERROR or DATABASE_ERROR",
    503: "The database is unavailable (DATABASE_ERROR)",
}


def _document_error_envelope(app: Litestar) -> None:
    for route in app.routes:
        if not route.path.startswith("/admin/"):
            continue
        for handler in getattr(route, "route_handlers", ()):
            specs = {
                status: ResponseSpec(
                    data_container=ErrorBody, description=description, generate_examples=False
                )
                for status, description in _ERROR_RESPONSES.items()
            }
            handler.responses = {**specs, **(handler.responses or {})}


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Klaviyo sync service — admin API",
        version="1.0.0",
        path="/schema",
        render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        components=Components(
            security_schemes={
                "BetterAuthBearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="Better-Auth signed session token (token.signature)",
                ),
                "BetterAuthCookie": SecurityScheme(
                    type="apiKey",
                    name="better-auth.session_token",
                    security_scheme_in="cookie",
                ),
            }
        ),
    )


def create_app(
    config: Config,
    *,
    pool: AsyncConnectionPool | None = None,
    plugins: Sequence[PluginProtocol] | None = None,
) -> Litestar:
    """`pool` is used as given (tests); without one the lifespan opens one on database_url."""
    if not config.better_auth_secret:
        raise ConfigError("BETTER_AUTH_SECRET is not set; sessions cannot be verified")
    state = State(
        {
            "config": config,
            "pool": pool,
            "cipher": SecretCipher.from_keys(config.app_encryption_keys),
            "roles": RolePermissions.load(config.roles_file),
        }
    )
    app = Litestar(
        route_handlers=[health],
        plugins=list(default_plugins(config) if plugins is None else plugins),
        dependencies={
            "pool": Provide(_provide_pool, sync_to_thread=False),
            "cipher": Provide(_provide_cipher, sync_to_thread=False),
            "config": Provide(_provide_config, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=_openapi(),
        lifespan=[_resources],
        state=state,
        logging_config=None,
    )
    # Wrapping the outermost handler logs requests the router rejects (404, 405) too.
    app.asgi_handler = RequestLogMiddleware(app.asgi_handler)
    _document_error_envelope(app)
    return app
