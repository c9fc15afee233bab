"""The gateway in front of every /api request: faults, Klaviyo's conventions and rate limits."""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseStartEvent,
    HTTPScope,
    Message,
    Receive,
    Scope,
    Send,
)

from app.sandbox.jsonapi import ACCEPTED_MEDIA_TYPES, MEDIA_TYPE, REVISION, ApiError, encoder
from app.sandbox.ratelimit import throttled
from app.sandbox.runtime import SandboxRuntime

AUTH_SCHEME = "klaviyo-api-key "
_BODY_METHODS = ("POST", "PATCH", "PUT")


async def send_error(send: Send, error: ApiError) -> None:
    body = encoder.encode({"errors": [error.to_error_object()]})
    headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class FaultGateway:
    """Outermost ASGI layer: counts /api responses by status and applies fault rules."""

    def __init__(self, app: ASGIApp, runtime: SandboxRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not scope["path"].startswith("/api"):
            await self.app(scope, receive, send)
            return
        counts = self.runtime.requests_per_status

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts[message["status"]] += 1
            await send(message)

        rule = self.runtime.faults.match(
            scope["method"],
            scope["path"],
            ("status", "hang", "reset", "malformed", "throttle", "empty"),
        )
        if rule is None:
            await self.app(scope, receive, counting_send)
        elif rule.kind == "status":
            await send_error(counting_send, _server_error(rule.status))
        elif rule.kind == "throttle":
            await send_error(counting_send, throttled(rule.retry_after_s))
        elif rule.kind == "hang":
            await asyncio.sleep(
                rule.hang_s if rule.hang_s is not None else self.runtime.config.default_hang_s
            )
            await send_error(counting_send, ApiError(504, "timeout", "The request timed out."))
        elif rule.kind == "reset":
            counts["reset"] += 1
            await self._reset_connection(scope, send)
        elif rule.kind == "empty":
            await _send_empty(counting_send)
        else:
            await self.app(scope, receive, _malformed_sender(counting_send))

    async def _reset_connection(self, scope: HTTPScope, send: Send) -> None:
        client = scope.get("client")
        # A two-item iterable by the ASGI spec; the transports are keyed by (host, port).
        transport = self.runtime.transports.get((client[0], client[1])) if client else None
        if transport is None:
            # Served without the sandbox's protocol: cut the response short instead.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise ConnectionResetError("sandbox reset fault")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0 makes close() send RST rather than FIN: the client sees a reset.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


def _server_error(status: int) -> ApiError:
    codes = {500: "error", 502: "bad_gateway", 503: "service_unavailable"}
    return ApiError(status, codes.get(status, "error"), "An error occurred on the server.")


async def _send_empty(send: Send) -> None:
    """200 with a well-formed document that holds nothing: no resource, no error."""
    body = encoder.encode({"data": [], "links": {"self": None, "next": None, "prev": None}})
    headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _malformed_sender(send: Send) -> Send:
    """Buffer the real response, then send its status with a body that is not valid JSON."""
    start: HTTPResponseStartEvent | None = None
    chunks: list[bytes] = []

    async def corrupting_send(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
        assert start is not None  # ASGI sends the start before any body
        real = b"".join(chunks)
        body = real[: max(1, len(real) // 2)] if len(real) > 2 else b'{"data": {"type": "'
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return corrupting_send


def api_conventions(runtime: SandboxRuntime) -> Any:
    """Litestar middleware for /api routes: auth, revision, media type, rate limit, recording."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or not scope["path"].startswith("/api"):
                await app(scope, receive, send)
                return
            try:
                account = _authenticate(runtime, scope)
                _check_revision(scope)
                _check_media_type(scope)
                operation = scope["route_handler"].opt.get("operation", "unknown")
                limit_headers = runtime.limiter.check(account.id, operation)
            except ApiError as error:
                await send_error(send, error)
                return
            scope["sandbox_account"] = account  # type: ignore[typeddict-unknown-key]
            status: list[int] = []
            extra = [(k.lower().encode(), v.encode()) for k, v in limit_headers.items()]

            async def decorated_send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])
                    if extra and message["status"] != 429:
                        message = {**message, "headers": [*message.get("headers", []), *extra]}
                await send(message)

            await app(scope, receive, decorated_send)
            body = scope.get("sandbox_body")  # set by read_body
            accepted = status and 200 <= status[0] < 300
            if runtime.recording and isinstance(body, bytes) and body and accepted:
                runtime.record(scope["method"], scope.get("path_template", ""), operation, body)

        return handle

    return middleware


def _authenticate(runtime: SandboxRuntime, scope: Scope) -> Any:
    value = _header(scope, b"authorization")
    if value is None or not value.lower().startswith(AUTH_SCHEME):
        raise ApiError(
            401,
            "not_authenticated",
            "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
        )
    account = runtime.accounts.get(value[len(AUTH_SCHEME) :].strip())
    if account is None:
        raise ApiError(401, "not_authenticated", "Incorrect authentication credentials.")
    return account


def _check_revision(scope: Scope) -> None:
    revision = _header(scope, b"revision")
    if revision is None:
        raise ApiError(400, "invalid", "The revision header is required.", parameter="revision")
    if not REVISION.match(revision.strip()):
        raise ApiError(
            400,
            "invalid",
            f"'{revision}' is not a valid revision; use YYYY-MM-DD.",
            parameter="revision",
        )


def _check_media_type(scope: HTTPScope) -> None:
    if scope["method"] not in _BODY_METHODS and _header(scope, b"content-length") in (None, "0"):
        return
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if content_type not in ACCEPTED_MEDIA_TYPES:
        raise ApiError(
            415, "unsupported_media_type", f"Unsupported media type '{content_type}' in request."
        )
