"""The response envelopes of the admin API, as generic msgspec types so OpenAPI shows them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import msgspec

if TYPE_CHECKING:
    from app.http.pagination import Page

T = TypeVar("T")

SUCCESS = "Success"


class ListMetadata(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Where a page sits in the whole list (the platform's paginated response shape)."""

    total: int
    limit: int
    offset: int
    has_more: bool


class Envelope(msgspec.Struct, Generic[T], frozen=True, kw_only=True, rename="camel"):
    """Every successful response of the module: `{data, message, statusCode, metadata?}`."""

    data: T
    message: str = SUCCESS
    status_code: int = 200
    metadata: ListMetadata | msgspec.UnsetType = msgspec.UNSET


class ErrorDetail(msgspec.Struct, frozen=True, kw_only=True):
    """One thing wrong with the input: which field, and what is wrong with it."""

    field: str
    message: str


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Every error response: `{statusCode, errorCode, message, details?}`."""

    status_code: int
    error_code: str
    message: str
    details: list[ErrorDetail] | msgspec.UnsetType = msgspec.UNSET


def ok(data: T, status: int = 200) -> Envelope[T]:
    """Wrap a payload; `status` must equal the handler's HTTP status (200 for every route here)."""
    return Envelope(data=data, status_code=status)


def ok_list(items: Sequence[T], total: int, page: Page) -> Envelope[list[T]]:
    """Wrap one page of a list with its metadata."""
    metadata = ListMetadata(
        total=total,
        limit=page.limit,
        offset=page.offset,
        has_more=page.offset + len(items) < total,
    )
    return Envelope(data=list(items), metadata=metadata)
