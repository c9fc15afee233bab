"""Every route handler of the Klaviyo module; the plugin is the only place they are mounted."""

from __future__ import annotations

from typing import Any

from app.klaviyo.catalog.routes import CATALOG_ROUTE_HANDLERS
from app.klaviyo.connection.routes import ConnectionController
from app.klaviyo.events.routes import KlaviyoEventsController
from app.klaviyo.profiles.routes import KlaviyoProfilesController
from app.klaviyo.webhooks.routes import receive_klaviyo_webhook

# Append controllers here (one line each). The plugin guards every one of them: GET needs
# klaviyo:view, any other method klaviyo:manage, unless the handler's opt is SIGNATURE_AUTH_OPT.
KLAVIYO_ROUTE_HANDLERS: list[Any] = [
    ConnectionController,
    *CATALOG_ROUTE_HANDLERS,
    KlaviyoProfilesController,
    KlaviyoEventsController,
    receive_klaviyo_webhook,
]
