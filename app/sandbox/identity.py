"""Profile identity: the attribute schemas, identifier validation, resolution and upserts."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from msgspec import UNSET, Struct, UnsetType, field

from app.sandbox.jsonapi import ApiError, encoder, invalid, new_ulid
from app.sandbox.store import Account, Profile

MAX_EXTERNAL_ID = 255
MAX_PROFILE_BYTES = 100 * 1024
IDENTIFIERS = ("email", "phone_number", "external_id", "anonymous_id")
PLAIN_FIELDS = ("first_name", "last_name", "organization", "locale", "title", "image")

Text = str | None | UnsetType
Coordinate = str | float | None | UnsetType


class Strict(Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class Location(Strict):
    address1: Text = UNSET
    address2: Text = UNSET
    city: Text = UNSET
    country: Text = UNSET
    latitude: Coordinate = UNSET
    longitude: Coordinate = UNSET
    region: Text = UNSET
    zip: Text = UNSET
    timezone: Text = UNSET
    ip: Text = UNSET


class PatchProperties(Strict):
    append: dict[str, Any] | None | UnsetType = UNSET
    unappend: dict[str, Any] | None | UnsetType = UNSET
    unset: str | list[str] | None | UnsetType = UNSET


class PatchIdentifiers(Strict):
    append: dict[str, Any] | UnsetType = UNSET
    unappend: dict[str, Any] | UnsetType = UNSET


class ProfileMeta(Strict):
    patch_properties: PatchProperties | UnsetType = UNSET
    patch_identifiers: PatchIdentifiers | UnsetType = UNSET


class ProfileAttributes(Strict):
    """Attributes accepted by POST /api/profiles and PATCH /api/profiles/{id}."""

    email: Text = UNSET
    phone_number: Text = UNSET
    external_id: Text = UNSET
    first_name: Text = UNSET
    last_name: Text = UNSET
    organization: Text = UNSET
    locale: Text = UNSET
    title: Text = UNSET
    image: Text = UNSET
    location: Location | UnsetType = UNSET
    properties: dict[str, Any] | None | UnsetType = UNSET


class ImportAttributes(ProfileAttributes):
    """profile-import and bulk import also take Klaviyo's `_kx` tracking identifier."""

    kx: Text = field(default=UNSET, name="_kx")


class EventProfileAttributes(ImportAttributes):
    anonymous_id: Text = UNSET
    meta: ProfileMeta | UnsetType = UNSET


def check_identifiers(attrs: Any, pointer: str) -> None:
    """Klaviyo's identifier rules: e-mail syntax, E.164 phone numbers, external_id length."""
    email = getattr(attrs, "email", UNSET)
    if isinstance(email, str):
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            raise invalid(f"Invalid email address: '{email}'.", f"{pointer}/email") from None
    phone = getattr(attrs, "phone_number", UNSET)
    if isinstance(phone, str) and not is_e164(phone):
        raise invalid(
            f"Invalid phone number format (Example of a valid format: +12345678901): '{phone}'.",
            f"{pointer}/phone_number",
        )
    external_id = getattr(attrs, "external_id", UNSET)
    if isinstance(external_id, str) and len(external_id) > MAX_EXTERNAL_ID:
        raise invalid(
            f"external_id must be at most {MAX_EXTERNAL_ID} characters.", f"{pointer}/external_id"
        )


def is_e164(phone: str) -> bool:
    if not phone.startswith("+"):
        return False
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return formatted == phone and phonenumbers.is_valid_number(parsed)


def check_profile_size(attrs: Struct, pointer: str) -> None:
    if len(encoder.encode(attrs)) > MAX_PROFILE_BYTES:
        raise ApiError(413, "request_too_large", "A profile may not exceed 100 KB.", pointer)


def given_identifiers(attrs: Any) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name in IDENTIFIERS
        if isinstance(value := getattr(attrs, name, UNSET), str) and value
    ]


def matching_profiles(account: Account, attrs: Any) -> list[Profile]:
    """Distinct existing profiles that any of the given identifiers points at, in order."""
    found: list[Profile] = []
    for name, value in given_identifiers(attrs):
        profile = account.find_by(name, value)
        if profile is not None and profile not in found:
            found.append(profile)
    return found


def duplicate(profile: Profile) -> ApiError:
    return ApiError(
        409,
        "duplicate_profile",
        "A profile already exists with one of these identifiers.",
        "/data/attributes",
        meta={"duplicate_profile_id": profile.id},
    )


def check_no_conflict(account: Account, profile: Profile, attrs: ProfileAttributes) -> None:
    """An identifier may not move onto this profile while another profile holds it."""
    for name, value in given_identifiers(attrs):
        owner = account.find_by(name, value)
        if owner is not None and owner is not profile:
            raise duplicate(owner)


def create_profile(account: Account) -> Profile:
    profile = Profile(new_ulid(), time.time())
    account.add_profile(profile)
    return profile


def apply_attributes(account: Account, profile: Profile, attrs: ProfileAttributes) -> None:
    """Null clears a field, an absent field stays as it is; properties merge key by key."""
    for name in IDENTIFIERS:
        value = getattr(attrs, name, UNSET)
        if value is not UNSET:
            account.index_identifier(profile, name, value or None)
    for name in PLAIN_FIELDS:
        value = getattr(attrs, name)
        if value is not UNSET:
            setattr(profile, name, value)
    if attrs.location is not UNSET:
        merged = dict(profile.location or {})
        merged.update(msgspec.to_builtins(attrs.location))
        profile.location = merged or None
    if attrs.properties is None:
        profile.properties = None
    elif attrs.properties is not UNSET:
        merged = dict(profile.properties or {})
        merged.update(attrs.properties)
        profile.properties = merged
    profile.updated = time.time()


def apply_meta(profile: Profile, meta: ProfileMeta | UnsetType) -> None:
    if meta is UNSET or meta.patch_properties is UNSET:
        return
    patch = meta.patch_properties
    properties = dict(profile.properties or {})
    if isinstance(patch.unset, str):
        properties.pop(patch.unset, None)
    elif isinstance(patch.unset, list):
        for key in patch.unset:
            properties.pop(key, None)
    for key, value in (patch.append or {}).items():
        current = properties.get(key)
        items = current if isinstance(current, list) else ([] if current is None else [current])
        properties[key] = [*items, *(value if isinstance(value, list) else [value])]
    for key, value in (patch.unappend or {}).items():
        current = properties.get(key)
        if isinstance(current, list):
            drop = value if isinstance(value, list) else [value]
            properties[key] = [item for item in current if item not in drop]
    profile.properties = properties or None


def resolve_for_event(
    account: Account, profile_id: str | None, attrs: EventProfileAttributes
) -> Profile:
    """Find the event's profile by id or any identifier, creating it when none matches."""
    profile = account.profiles.get(profile_id) if profile_id else None
    if profile is None:
        found = matching_profiles(account, attrs)
        profile = found[0] if found else create_profile(account)
    # An identifier another profile already holds stays with that profile.
    for name, value in given_identifiers(attrs):
        owner = account.find_by(name, value)
        if owner is not None and owner is not profile:
            setattr(attrs, name, UNSET)
    apply_attributes(account, profile, attrs)
    apply_meta(profile, attrs.meta)
    return profile
