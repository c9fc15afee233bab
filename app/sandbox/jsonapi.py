"""JSON:API conventions Klaviyo enforces: errors with pointers, typed bodies, ids, times."""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

MEDIA_TYPE = "application/vnd.api+json"
ACCEPTED_MEDIA_TYPES = ("application/json", "application/vnd.api+json")
REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SHORT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MSGSPEC_LOCATION = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_FIELD_NAME = re.compile(r"field `(?P<field>[^`]+)`")

_TITLES = {
    400: "Invalid input.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict.",
    413: "Request entity too large.",
    415: "Unsupported media type.",
    429: "Request was throttled.",
    500: "A server error occurred.",
    502: "Bad gateway.",
    503: "Service unavailable.",
    504: "Gateway timeout.",
}

encoder = msgspec.json.Encoder()
T = TypeVar("T")


class ApiError(Exception):
    """One JSON:API error; raising it anywhere in a handler renders Klaviyo's error document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        pointer: str | None = None,
        meta: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        parameter: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.meta = meta or {}
        self.headers = headers or {}

    def to_error_object(self) -> dict[str, Any]:
        source: dict[str, str] = {}
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        return {
            "id": str(uuid.uuid4()),
            "status": self.status,
            "code": self.code,
            "title": _TITLES.get(self.status, "Error."),
            "detail": self.detail,
            "source": source,
            "links": {},
            "meta": self.meta,
        }


def invalid(detail: str, pointer: str | None = None) -> ApiError:
    return ApiError(400, "invalid", detail, pointer)


def error_response(error: ApiError) -> Response:
    body = encoder.encode({"errors": [error.to_error_object()]})
    return Response(body, status_code=error.status, media_type=MEDIA_TYPE, headers=error.headers)


def document(body: Any, status: int = 200) -> Response:
    return Response(encoder.encode(body), status_code=status, media_type=MEDIA_TYPE)


def accepted_empty() -> Response:
    return Response(b"", status_code=202, media_type=MEDIA_TYPE)


def no_content() -> Response:
    return Response(b"", status_code=204, media_type=MEDIA_TYPE)


def pointer_from_path(path: str) -> str:
    """msgspec's `$.data.items[3].title` location as the JSON pointer `/data/items/3/title`."""
    parts = re.findall(r"\.([^.\[]+)|\[(\d+)\]", path)
    return "".join("/" + (key or index) for key, index in parts) or ""


def decode_body(raw: bytes, schema: type[T]) -> T:
    """Decode a request body into its typed schema, naming the offending field on failure."""
    try:
        return msgspec.json.decode(raw, type=schema)
    except msgspec.ValidationError as exc:
        match = _MSGSPEC_LOCATION.match(str(exc))
        message = match.group("message") if match else str(exc)
        pointer = pointer_from_path(match.group("path") or "") if match else ""
        field = _FIELD_NAME.search(message)
        if field and ("missing required" in message or "unknown field" in message):
            pointer = f"{pointer}/{field.group('field')}"
        if "unknown field" in message and field:
            message = f"'{field.group('field')}' is not a valid field for this resource."
        raise invalid(message, pointer or "/data") from None
    except msgspec.DecodeError as exc:
        raise invalid(f"The request body is not valid JSON: {exc}.", "/") from None


def check_type(actual: str, expected: str, pointer: str = "/data/type") -> None:
    """A top-level type mismatch is a JSON:API conflict; nested mismatches are invalid input."""
    if actual == expected:
        return
    status, code = (409, "conflict") if pointer == "/data/type" else (400, "invalid")
    raise ApiError(
        status, code, f"The type '{actual}' does not match the expected type '{expected}'.", pointer
    )


def page_size(request: Request, default: int, maximum: int) -> int:
    raw = request.query_params.get("page[size]")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(
            400, "invalid", f"page[size] must be between 1 and {maximum}.", parameter="page[size]"
        )
    return int(raw)


def page_cursor(request: Request) -> int:
    raw = request.query_params.get("page[cursor]")
    if raw is None:
        return 0
    try:
        return int(raw, 36)
    except ValueError:
        raise ApiError(
            400, "invalid", "page[cursor] is not a valid cursor.", parameter="page[cursor]"
        ) from None


def next_link(request: Request, offset: int) -> str:
    params = {k: v for k, v in request.query_params.items() if k != "page[cursor]"}
    params["page[cursor]"] = _base36(offset)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{request.base_url}{request.url.path.lstrip('/')}?{query}"


def self_link(request: Request, path: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{path}"


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if number == 0:
            return out


def new_ulid() -> str:
    """A 26-character time-ordered id like Klaviyo's profile and webhook ids."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        chars.append(_CROCKFORD[rem])
    return "".join(reversed(chars))


def short_id(length: int = 6) -> str:
    """A short mixed-case id like Klaviyo's metric and account ids."""
    raw = os.urandom(length)
    return "".join(_SHORT_ALPHABET[b % 62] for b in raw)


def encode_seq(prefix: str, seq: int) -> str:
    """Sequential ids (events, jobs) rendered compactly; `decode_seq` reverses it."""
    return f"{prefix}{_base36(seq)}"


def decode_seq(prefix: str, value: str) -> int | None:
    if not value.startswith(prefix):
        return None
    try:
        return int(value[len(prefix) :], 36)
    except ValueError:
        return None


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")


def parse_time(value: str, pointer: str) -> float:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"'{value}' is not a valid ISO 8601 datetime.", pointer) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
