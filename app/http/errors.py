"""API errors and the exception handlers that turn every failure into the error envelope."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import psycopg
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from app.http.envelope import ErrorBody, ErrorDetail
from app.logs import redact_text

log = structlog.get_logger(__name__)

# Litestar's own exceptions carry only a status; these are the codes the contract names.
_CODES_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

DetailInput = ErrorDetail | Mapping[str, Any]


def _detail(item: DetailInput) -> ErrorDetail:
    if isinstance(item, ErrorDetail):
        return item
    return ErrorDetail(field=str(item.get("field", "")), message=str(item.get("message", "")))


class ApiError(Exception):
    """A failure the client is told about, with the status and code it should act on."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        details: Sequence[DetailInput] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.details = [_detail(d) for d in details] if details else None

    def body(self) -> ErrorBody:
        details = self.details if self.details else msgspec.UNSET
        return ErrorBody(
            status_code=self.status,
            error_code=self.error_code,
            message=self.message,
            details=details,
        )


class BadRequest(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(400, "BAD_REQUEST", message)


class ValidationFailed(ApiError):
    """400 VALIDATION_ERROR; `details` names each field: [{"field": ..., "message": ...}]."""

    def __init__(self, message: str, details: Sequence[DetailInput] | None = None) -> None:
        super().__init__(400, "VALIDATION_ERROR", message, details)

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls(message, [ErrorDetail(field=field, message=message)])


class Unauthorized(ApiError):
    def __init__(self, message: str = "A valid admin session is required.") -> None:
        super().__init__(401, "UNAUTHORIZED", message)


class Forbidden(ApiError):
    def __init__(self, message: str = "The session lacks the permission this route needs.") -> None:
        super().__init__(403, "FORBIDDEN", message)


class NotFound(ApiError):
    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(404, "NOT_FOUND", message)


class UpstreamFailed(ApiError):
    """Klaviyo could not be reached or failed: 502 unless Klaviyo's own status is passed on."""

    def __init__(self, message: str, error_code: str = "KLAVIYO_UNAVAILABLE", status: int = 502):
        super().__init__(status, error_code, message)


def error_response(body: ErrorBody) -> Response[ErrorBody]:
    return Response(content=body, status_code=body.status_code)


def handle_api_error(request: Request, exc: ApiError) -> Response[ErrorBody]:
    return error_response(exc.body())


_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def _validation_detail(item: Mapping[str, Any]) -> ErrorDetail:
    key = str(item.get("key") or item.get("source") or "body")
    message = redact_text(str(item.get("message")))
    if key != "data":
        return ErrorDetail(field=key, message=message)
    # `data` is Litestar's name for the whole body; name the field inside it instead.
    missing = _MISSING_FIELD.search(message)
    if missing:
        return ErrorDetail(field=missing.group(1), message=f"{missing.group(1)} is required")
    if message == "'data'":
        return ErrorDetail(field="body", message="a JSON request body is required")
    return ErrorDetail(field="body", message=message)


def _validation_details(extra: Any) -> list[ErrorDetail]:
    items = extra if isinstance(extra, list) else []
    return [_validation_detail(item) for item in items if isinstance(item, Mapping)]


def handle_http_exception(request: Request, exc: HTTPException) -> Response[ErrorBody]:
    status = exc.status_code
    if isinstance(exc, ValidationException) and (details := _validation_details(exc.extra)):
        first = details[0]
        return error_response(
            ErrorBody(
                status_code=400,
                error_code="VALIDATION_ERROR",
                message=f"Invalid request: {first.field}: {first.message}",
                details=details,
            )
        )
    if isinstance(exc.__cause__, SerializationException):
        return error_response(
            ErrorBody(
                status_code=400,
                error_code="BAD_REQUEST",
                message=f"The request body is not valid JSON: {exc.detail}",
            )
        )
    if status >= 500:
        return handle_unexpected(request, exc)
    code = _CODES_BY_STATUS.get(status, "BAD_REQUEST")
    response = error_response(
        ErrorBody(status_code=status, error_code=code, message=redact_text(str(exc.detail)))
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def handle_database_error(request: Request, exc: psycopg.Error) -> Response[ErrorBody]:
    # OperationalError covers a lost connection, a refused one and the pool's timeout.
    unavailable = isinstance(exc, psycopg.OperationalError)
    log.error(
        "database_error",
        error_type=type(exc).__name__,
        sqlstate=getattr(exc, "sqlstate", None),
        path=request.url.path,
        exc_info=exc,
    )
    status = 503 if unavailable else 500
    message = "The database is unavailable; retry shortly." if unavailable else "A database error."
    return error_response(
        ErrorBody(status_code=status, error_code="DATABASE_ERROR", message=message)
    )


def handle_unexpected(request: Request, exc: Exception) -> Response[ErrorBody]:
    log.error(
        "unhandled_exception",
        error_type=type(exc).__name__,
        path=request.url.path,
        exc_info=exc,
    )
    return error_response(
        ErrorBody(
            status_code=HTTP_500_INTERNAL_SERVER_ERROR,
            error_code="INTERNAL_SERVER_ERROR",
            message="An internal error occurred; it has been logged.",
        )
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    psycopg.Error: handle_database_error,
    Exception: handle_unexpected,
}
