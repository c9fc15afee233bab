"""Profiles: profile-import upserts, create, update, and reads with filters and cursors."""

from __future__ import annotations

import heapq
import re
from typing import Any

from litestar import Request, Response, get, patch, post
from litestar.params import FromPath
from msgspec import UNSET, Struct, UnsetType

from app.sandbox.consent import subscriptions_of
from app.sandbox.identity import (
    ImportAttributes,
    ProfileAttributes,
    ProfileMeta,
    apply_attributes,
    apply_meta,
    check_identifiers,
    check_no_conflict,
    check_profile_size,
    create_profile,
    duplicate,
    matching_profiles,
)
from app.sandbox.jsonapi import (
    ApiError,
    check_type,
    decode_body,
    document,
    iso,
    next_link,
    page_cursor,
    page_size,
    parse_time,
    self_link,
)
from app.sandbox.runtime import account_of, read_body
from app.sandbox.store import Account, Profile

_FILTER = re.compile(r"^(equals|any)\((\w+),\s*(.+)\)$")
_FILTER_FIELDS = ("id", "email", "phone_number", "external_id")


class ImportData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: ImportAttributes
    id: str | None | UnsetType = UNSET
    meta: ProfileMeta | UnsetType = UNSET


class ImportBody(Struct, forbid_unknown_fields=True):
    data: ImportData


class CreateData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: ProfileAttributes


class CreateBody(Struct, forbid_unknown_fields=True):
    data: CreateData


class UpdateData(Struct, forbid_unknown_fields=True):
    type: str
    id: str
    attributes: ProfileAttributes
    meta: ProfileMeta | UnsetType = UNSET


class UpdateBody(Struct, forbid_unknown_fields=True):
    data: UpdateData


def profile_resource(request: Request, profile: Profile, with_subscriptions: bool) -> dict:
    attributes: dict[str, Any] = {
        "email": profile.email,
        "phone_number": profile.phone_number,
        "external_id": profile.external_id,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "organization": profile.organization,
        "locale": profile.locale,
        "title": profile.title,
        "image": profile.image,
        "created": iso(profile.created),
        "updated": iso(profile.updated),
        "last_event_date": iso(profile.last_event_date),
        "location": profile.location or {},
        "properties": profile.properties or {},
    }
    if with_subscriptions:
        attributes["subscriptions"] = subscriptions_of(profile)
    return {
        "type": "profile",
        "id": profile.id,
        "attributes": attributes,
        "links": {"self": self_link(request, f"/api/profiles/{profile.id}/")},
    }


def wants_subscriptions(request: Request) -> bool:
    return "subscriptions" in request.query_params.get("additional-fields[profile]", "").split(",")


def _single(request: Request, profile: Profile, status: int) -> Response:
    resource = profile_resource(request, profile, wants_subscriptions(request))
    return document({"data": resource, "links": resource["links"]}, status)


@post("/api/profile-import", opt={"operation": "create_or_update_profile"})
async def import_profile(request: Request) -> Response:
    account = account_of(request)
    raw = await read_body(request)
    body = decode_body(raw, ImportBody)
    check_type(body.data.type, "profile")
    attrs = body.data.attributes
    check_identifiers(attrs, "/data/attributes")
    check_profile_size(attrs, "/data/attributes")
    profile, created = upsert_profile(account, body.data.id or None, attrs, "/data")
    apply_meta(profile, body.data.meta)
    return _single(request, profile, 201 if created else 200)


def upsert_profile(
    account: Account, profile_id: str | None, attrs: ProfileAttributes, pointer: str
) -> tuple[Profile, bool]:
    """Klaviyo's profile-import rule: update the one profile the identifiers name, else create."""
    if profile_id:
        profile = account.profiles.get(profile_id)
        if profile is None:
            raise ApiError(
                404, "not_found", f"A profile with id {profile_id} does not exist.", f"{pointer}/id"
            )
        check_no_conflict(account, profile, attrs)
        apply_attributes(account, profile, attrs)
        return profile, False
    found = matching_profiles(account, attrs)
    if not found and not any(
        isinstance(getattr(attrs, n, None), str) for n in ("email", "phone_number", "external_id")
    ):
        raise ApiError(
            400,
            "invalid",
            "One of email, phone_number or external_id is required.",
            f"{pointer}/attributes",
        )
    if len(found) > 1:
        raise duplicate(found[1])
    profile, created = (found[0], False) if found else (create_profile(account), True)
    apply_attributes(account, profile, attrs)
    return profile, created


@post("/api/profiles", opt={"operation": "create_profile"})
async def create_profile_handler(request: Request) -> Response:
    account = account_of(request)
    body = decode_body(await read_body(request), CreateBody)
    check_type(body.data.type, "profile")
    attrs = body.data.attributes
    check_identifiers(attrs, "/data/attributes")
    check_profile_size(attrs, "/data/attributes")
    found = matching_profiles(account, attrs)
    if found:
        raise duplicate(found[0])
    if not any(
        isinstance(getattr(attrs, n), str) for n in ("email", "phone_number", "external_id")
    ):
        raise ApiError(
            400,
            "invalid",
            "One of email, phone_number or external_id is required.",
            "/data/attributes",
        )
    profile = create_profile(account)
    apply_attributes(account, profile, attrs)
    return _single(request, profile, 201)


@patch("/api/profiles/{profile_id:str}", opt={"operation": "update_profile"})
async def update_profile(request: Request, profile_id: FromPath[str]) -> Response:
    account = account_of(request)
    body = decode_body(await read_body(request), UpdateBody)
    check_type(body.data.type, "profile")
    if body.data.id != profile_id:
        raise ApiError(
            409, "conflict", "The id in the body does not match the id in the URL.", "/data/id"
        )
    profile = find_profile(account, profile_id)
    attrs = body.data.attributes
    check_identifiers(attrs, "/data/attributes")
    check_profile_size(attrs, "/data/attributes")
    check_no_conflict(account, profile, attrs)
    apply_attributes(account, profile, attrs)
    apply_meta(profile, body.data.meta)
    return _single(request, profile, 200)


def find_profile(account: Account, profile_id: str) -> Profile:
    profile = account.profiles.get(profile_id)
    if profile is None:
        raise ApiError(404, "not_found", f"A profile with id {profile_id} does not exist.")
    return profile


@get("/api/profiles/{profile_id:str}", opt={"operation": "get_profile"})
async def get_profile(request: Request, profile_id: FromPath[str]) -> Response:
    return _single(request, find_profile(account_of(request), profile_id), 200)


@get("/api/profiles", opt={"operation": "get_profiles"})
async def list_profiles(request: Request) -> Response:
    account = account_of(request)
    size = page_size(request, 20, 100)
    offset = page_cursor(request)
    raw_filter = request.query_params.get("filter")
    if raw_filter:
        # One more than the page tells whether there is a next page.
        matches = filter_profiles(account, raw_filter, offset + size + 1)
        page, more = matches[offset : offset + size], len(matches) > offset + size
    else:
        ids = account.profile_order[offset : offset + size]
        page, more = [account.profiles[i] for i in ids], len(account.profile_order) > offset + size
    with_subs = wants_subscriptions(request)
    links: dict[str, str | None] = {"self": str(request.url), "next": None, "prev": None}
    if more:
        links["next"] = next_link(request, offset + size)
    data = [profile_resource(request, p, with_subs) for p in page]
    return document({"data": data, "links": links})


def filter_profiles(account: Account, raw: str, limit: int) -> list[Profile]:
    """The matches in page order: equals/any find every one through the indices, the `updated`
    filter the first `limit`."""
    updated = filter_profiles_by_updated(account, raw, limit)
    if updated is not None:
        return updated
    match = _FILTER.match(raw.strip())
    if not match or match.group(2) not in _FILTER_FIELDS:
        raise ApiError(
            400,
            "invalid",
            f"Invalid filter: '{raw}'. Supported: equals or any on {', '.join(_FILTER_FIELDS)}.",
            parameter="filter",
        )
    operator, field_name, operand = match.groups()
    values = _filter_values(operand, operator == "any", raw)
    found = [account.find_by(field_name, value) for value in values]
    return [p for p in dict.fromkeys(found) if p is not None]


# Added for the consent polling fallback (webhooks): `greater-than(updated,<time>)` and
# `less-than(updated,<time>)`, as Klaviyo's Get Profiles accepts them; oldest update first.
_UPDATED_FILTER = re.compile(r"^(greater-than|less-than)\(updated,\s*([^)]+)\)$")


def filter_profiles_by_updated(account: Account, raw: str, limit: int) -> list[Profile] | None:
    """The `limit` oldest-updated matches, in one pass over the profiles, never a full sort.

    None when `raw` is not a filter on `updated`.
    """
    match = _UPDATED_FILTER.match(raw.strip())
    if not match:
        return None
    operator, operand = match.groups()
    moment = parse_time(operand.strip().strip("\"'"), "filter")
    after = operator == "greater-than"
    found = (
        p
        for p in account.profiles.values()
        if (p.updated > moment if after else p.updated < moment)
    )
    return heapq.nsmallest(limit, found, key=_update_order)


def _update_order(profile: Profile) -> tuple[float, str]:
    return profile.updated, profile.id


def _filter_values(operand: str, many: bool, raw: str) -> list[str]:
    operand = operand.strip()
    if many:
        if not (operand.startswith("[") and operand.endswith("]")):
            raise ApiError(400, "invalid", f"Invalid filter: '{raw}'.", parameter="filter")
        parts = [p.strip() for p in operand[1:-1].split(",") if p.strip()]
    else:
        parts = [operand]
    values = []
    for part in parts:
        if len(part) < 2 or part[0] not in "\"'" or part[-1] != part[0]:
            raise ApiError(400, "invalid", f"Invalid filter value in '{raw}'.", parameter="filter")
        values.append(part[1:-1])
    return values


ROUTES = [import_profile, create_profile_handler, update_profile, get_profile, list_profiles]
