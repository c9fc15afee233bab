"""Route guards of the module: a session, the klaviyo:* permission, and CSRF for cookies."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.auth.session import AdminSession, authenticate
from app.http.errors import Forbidden

RESOURCE = "klaviyo"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Handlers that authenticate otherwise (Klaviyo's signed webhook deliveries) carry this in
# their `opt`; every other route of the module gets the session guard from the plugin.
SIGNATURE_AUTH_OPT = {"auth": "klaviyo_signature"}


def _check_origin(connection: ASGIConnection, session: AdminSession) -> None:
    # A browser attaches the cookie to cross-site requests; a bearer token it never sends itself.
    if session.via != "cookie" or connection.scope.get("method") in READ_METHODS:
        return
    origin = connection.headers.get("origin")
    trusted = connection.app.state.config.trusted_origins
    if origin is None or origin.rstrip("/") not in trusted:
        raise Forbidden("Cookie-authenticated changes need an Origin header from a trusted origin.")


async def _require(connection: ASGIConnection, action: str) -> AdminSession:
    session = await authenticate(connection)
    if not connection.app.state.roles.allows(session.roles, RESOURCE, action):
        raise Forbidden(f"This route needs the {RESOURCE}:{action} permission.")
    _check_origin(connection, session)
    return session


async def require_view(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    await _require(connection, "view")


async def require_manage(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    await _require(connection, "manage")


async def require_module_permission(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """GET needs klaviyo:view, everything else klaviyo:manage; the plugin applies it to all."""
    if handler.opt.get("auth") == SIGNATURE_AUTH_OPT["auth"]:
        return
    action = "view" if connection.scope.get("method") in READ_METHODS else "manage"
    await _require(connection, action)
