"""Page and limit of the module's list endpoints, validated with errors that name the field."""

from __future__ import annotations

import msgspec
from litestar.params import FromQuery

from app.http.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# Far past any table's end, and low enough that the row offset stays a PostgreSQL bigint.
MAX_PAGE = 1_000_000_000


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """A 1-based page of `limit` rows, starting at row `offset`."""

    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _parse(name: str, raw: str | None, default: int, low: int, high: int | None) -> int:
    if raw is None or raw.strip() == "":
        return default
    bounds = f"between {low} and {high}" if high is not None else f">= {low}"
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        message = f"{name} must be an integer {bounds}, got {raw!r}"
        raise ValidationFailed(message, [{"field": name, "message": message}])
    return value


def page_from_query(page: str | None, limit: str | None) -> Page:
    """`page` 1..MAX_PAGE (default 1), `limit` 1..200 (default 50)."""
    return Page(
        page=_parse("page", page, 1, 1, MAX_PAGE),
        limit=_parse("limit", limit, DEFAULT_LIMIT, 1, MAX_LIMIT),
    )


async def provide_paging(
    page: FromQuery[str | None] = None, limit: FromQuery[str | None] = None
) -> Page:
    """Litestar dependency `paging`: declare `paging: Page` in a handler to get the query's page."""
    return page_from_query(page, limit)
