"""The Klaviyo module as a Litestar plugin: left out (or switched off), none of its routes exist."""

from __future__ import annotations

from litestar import Router
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from app.auth.guards import require_module_permission


class KlaviyoPlugin(InitPluginProtocol):
    """Mounts KLAVIYO_ROUTE_HANDLERS behind the module's session and permission guard."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        from app.klaviyo.routes import KLAVIYO_ROUTE_HANDLERS

        module = Router(
            path="/",
            route_handlers=list(KLAVIYO_ROUTE_HANDLERS),
            guards=[require_module_permission],
            security=[{"BetterAuthBearer": []}, {"BetterAuthCookie": []}],
        )
        app_config.route_handlers.append(module)
        return app_config
