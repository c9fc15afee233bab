"""Profile payloads: a customer of the source contract as Klaviyo's profile, and consent jobs.

Built at push time from a `klaviyo_source.customers` row (see `klaviyo.profile_source`). A field
Klaviyo would reject (a phone that is not a number, a malformed e-mail or locale) is left out and
reported as a warning, so the profile still syncs and the drain notes why in `last_error`.
Consent never rides on the profile: it goes through subscribe / unsubscribe jobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email

from app.klaviyo.payloads.events import iso_time

ConsentStatus = Literal["subscribed", "unsubscribed", "never_subscribed"]

_ENGLISH = Locale("en")


def profile_attributes(
    source_row: Mapping[str, Any], *, custom_properties: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Attributes of the `profile` resource (profile-import, bulk import) and the warnings."""
    warnings: list[str] = []
    attributes: dict[str, Any] = {"external_id": str(source_row["customer_id"])}

    email, problem = normalise_email(source_row.get("email"))
    _put(attributes, "email", email, problem, warnings)
    phone, problem = normalise_phone(source_row.get("phone"), source_row.get("country_code"))
    _put(attributes, "phone_number", phone, problem, warnings)
    _put(attributes, "first_name", _text(source_row.get("first_name")), None, warnings)
    _put(attributes, "last_name", _text(source_row.get("last_name")), None, warnings)
    locale, problem = normalise_locale(source_row.get("locale"))
    _put(attributes, "locale", locale, problem, warnings)

    location = _location(source_row, warnings)
    if location:
        attributes["location"] = location
    properties = {**(source_row.get("properties") or {}), **(custom_properties or {})}
    if properties:
        attributes["properties"] = properties
    return attributes, warnings


def profile_resource(
    source_row: Mapping[str, Any],
    *,
    klaviyo_profile_id: str | None = None,
    custom_properties: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The `profile` resource for POST /api/profile-import or a bulk import job entry; with the
    Klaviyo id known, Klaviyo updates that profile rather than matching by identifiers."""
    attributes, warnings = profile_attributes(source_row, custom_properties=custom_properties)
    resource: dict[str, Any] = {"type": "profile", "attributes": attributes}
    if klaviyo_profile_id:
        resource["id"] = klaviyo_profile_id
    return resource, warnings


def profile_bulk_import_job(resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The body of POST /api/profile-bulk-import-jobs for resources from `profile_resource`."""
    return {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": list(resources)}},
        }
    }


def consent_of(source_row: Mapping[str, Any]) -> ConsentStatus:
    """E-mail marketing consent in Klaviyo's words (mirrors SQL `klaviyo.consent_status`)."""
    if source_row.get("accepts_email_marketing"):
        return "subscribed"
    if source_row.get("consent_updated_at") is not None:
        return "unsubscribed"
    return "never_subscribed"


def consent_email(source_row: Mapping[str, Any]) -> str | None:
    """The address an e-mail consent job can name, or None when the customer has no valid one."""
    email, _ = normalise_email(source_row.get("email"))
    return email


def subscription_create_job(
    source_rows: Sequence[Mapping[str, Any]],
    *,
    historical_import: bool = False,
    custom_source: str | None = None,
) -> dict[str, Any]:
    """The body of POST /api/profile-subscription-bulk-create-jobs subscribing the customers to
    e-mail marketing. With `historical_import`, each consent keeps the time the store recorded."""
    profiles = []
    for row in source_rows:
        marketing: dict[str, Any] = {"consent": "SUBSCRIBED"}
        if historical_import and row.get("consent_updated_at") is not None:
            marketing["consented_at"] = iso_time(row["consent_updated_at"])
        profiles.append(_consent_profile(row, {"email": {"marketing": marketing}}))
    attributes: dict[str, Any] = {
        "profiles": {"data": profiles},
        "historical_import": historical_import,
    }
    if custom_source:
        attributes["custom_source"] = custom_source
    return {"data": {"type": "profile-subscription-bulk-create-job", "attributes": attributes}}


def subscription_delete_job(source_rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The body of POST /api/profile-subscription-bulk-delete-jobs unsubscribing the customers
    from e-mail marketing."""
    unsubscribed = {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}}
    profiles = [_consent_profile(row, unsubscribed) for row in source_rows]
    return {
        "data": {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {"profiles": {"data": profiles}},
        }
    }


def normalise_phone(raw: str | None, country_code: str | None) -> tuple[str | None, str | None]:
    """(E.164 number, None), or (None, warning) when the text is not a valid number; national
    formats are read in the customer's country."""
    text = _text(raw)
    if text is None:
        return None, None
    region = country_code.upper() if country_code else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        where = f" for country {region}" if region else " (no country to read it in)"
        return None, f"phone {text!r} is not a valid number{where}; left out of the profile"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def normalise_email(raw: str | None) -> tuple[str | None, str | None]:
    text = _text(raw)
    if text is None:
        return None, None
    try:
        return validate_email(text, check_deliverability=False).normalized, None
    except EmailNotValidError:
        return None, f"email {text!r} is not a valid address; left out of the profile"


def normalise_locale(raw: str | None) -> tuple[str | None, str | None]:
    """A BCP 47 tag like en-US (Klaviyo's form) from en_US, en-us, fr …"""
    text = _text(raw)
    if text is None:
        return None, None
    try:
        locale = Locale.parse(text.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None, f"locale {text!r} is not a known locale; left out of the profile"
    return str(locale).replace("_", "-"), None


def _location(source_row: Mapping[str, Any], warnings: list[str]) -> dict[str, str]:
    location = {
        "address1": _text(source_row.get("address1")),
        "address2": _text(source_row.get("address2")),
        "city": _text(source_row.get("city")),
        "region": _text(source_row.get("region")),
        "zip": _text(source_row.get("postal_code")),
    }
    code = _text(source_row.get("country_code"))
    if code:
        # Klaviyo's location.country is a country name.
        name = _ENGLISH.territories.get(code.upper())
        if name is None:
            warnings.append(f"country code {code!r} is not an ISO 3166 country; left out")
        location["country"] = name
    return {key: value for key, value in location.items() if value}


def _consent_profile(row: Mapping[str, Any], subscriptions: dict[str, Any]) -> dict[str, Any]:
    email = consent_email(row)
    if email is None:
        raise ValueError(
            f"customer {row.get('customer_id')} has no valid e-mail; e-mail consent needs one"
        )
    return {"type": "profile", "attributes": {"email": email, "subscriptions": subscriptions}}


def _put(
    attributes: dict[str, Any], name: str, value: Any, problem: str | None, warnings: list[str]
) -> None:
    if problem:
        warnings.append(problem)
    if value is not None:
        attributes[name] = value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
