"""E-mail and SMS consent: Klaviyo's state machine, the consent bulk jobs and consent webhooks."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from msgspec import UNSET, Struct, UnsetType

from app.sandbox.identity import check_identifiers, create_profile, matching_profiles
from app.sandbox.jsonapi import (
    ApiError,
    accepted_empty,
    check_type,
    decode_body,
    document,
    invalid,
    iso,
    parse_time,
    self_link,
)
from app.sandbox.runtime import SandboxRuntime, account_of, read_body, runtime_of
from app.sandbox.store import NEVER_SUBSCRIBED, Account, Profile

SUBSCRIBED, UNSUBSCRIBED = "SUBSCRIBED", "UNSUBSCRIBED"
# Subscribing lifts these suppressions; bounces and invalid addresses stay.
LIFTED_BY_SUBSCRIBE = ("UNSUBSCRIBE", "SPAM_COMPLAINT", "USER_SUPPRESSED")
ACTION_TOPICS = {
    "subscribe": "event:klaviyo.subscribed_to_email_marketing",
    "unsubscribe": "event:klaviyo.unsubscribed_from_email_marketing",
    "suppress": "event:klaviyo.manually_suppressed_email",
    "unsuppress": "event:klaviyo.manually_unsuppressed_email",
    "bounce": "event:klaviyo.bounced_email",
    "spam": "event:klaviyo.marked_email_as_spam",
}
_LIMITS = {"subscribe": 1000, "unsubscribe": 100, "suppress": 100, "unsuppress": 100}


class Consent(Struct, forbid_unknown_fields=True):
    consent: str
    consented_at: str | None | UnsetType = UNSET


class Channel(Struct, forbid_unknown_fields=True):
    marketing: Consent | UnsetType = UNSET
    transactional: Consent | UnsetType = UNSET
    open_tracking: Consent | UnsetType = UNSET
    conversational: Consent | UnsetType = UNSET


class Subscriptions(Struct, forbid_unknown_fields=True):
    email: Channel | UnsetType = UNSET
    sms: Channel | UnsetType = UNSET
    whatsapp: Channel | UnsetType = UNSET
    push: dict[str, Any] | UnsetType = UNSET


class ConsentAttributes(Struct, forbid_unknown_fields=True):
    subscriptions: Subscriptions
    email: str | None | UnsetType = UNSET
    phone_number: str | None | UnsetType = UNSET
    age_gated_date_of_birth: str | None | UnsetType = UNSET


class ConsentProfile(Struct, forbid_unknown_fields=True):
    type: str
    attributes: ConsentAttributes
    id: str | None | UnsetType = UNSET


class ProfileList(Struct, forbid_unknown_fields=True):
    data: list[ConsentProfile]


class SubscriptionAttributes(Struct, forbid_unknown_fields=True):
    profiles: ProfileList
    custom_source: str | None | UnsetType = UNSET
    historical_import: bool | None | UnsetType = UNSET


class SubscriptionData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: SubscriptionAttributes
    relationships: dict[str, Any] | UnsetType = UNSET


class SubscriptionBody(Struct, forbid_unknown_fields=True):
    data: SubscriptionData


class EmailOnly(Struct, forbid_unknown_fields=True):
    email: str


class SuppressionProfile(Struct, forbid_unknown_fields=True):
    type: str
    attributes: EmailOnly


class SuppressionList(Struct, forbid_unknown_fields=True):
    data: list[SuppressionProfile]


class SuppressionAttributes(Struct, forbid_unknown_fields=True):
    profiles: SuppressionList | None | UnsetType = UNSET


class SuppressionData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: SuppressionAttributes
    relationships: dict[str, Any] | UnsetType = UNSET


class SuppressionBody(Struct, forbid_unknown_fields=True):
    data: SuppressionData


def subscriptions_of(profile: Profile) -> dict[str, Any]:
    suppressions = profile.email_suppressions or []
    email_ok = profile.email_consent == SUBSCRIBED and not suppressions and bool(profile.email)
    return {
        "email": {
            "marketing": {
                "can_receive_email_marketing": email_ok,
                "consent": profile.email_consent,
                "consent_timestamp": iso(profile.email_consent_ts),
                "last_updated": iso(profile.email_last_updated),
                "method": profile.email_method,
                "method_detail": profile.email_method_detail,
                "custom_method_detail": profile.email_custom_method_detail,
                "double_optin": None,
                "suppression": [{"reason": r, "timestamp": iso(t)} for r, t in suppressions],
                "list_suppressions": [],
            }
        },
        "sms": {
            "marketing": {
                "can_receive_sms_marketing": profile.sms_consent == SUBSCRIBED,
                "consent": profile.sms_consent,
                "consent_timestamp": iso(profile.sms_consent_ts),
                "method": None,
                "method_detail": None,
                "last_updated": iso(profile.sms_consent_ts),
            },
            "transactional": {
                "can_receive_sms_transactional": profile.sms_transactional == SUBSCRIBED,
                "consent": profile.sms_transactional,
                "consent_timestamp": None,
                "method": None,
                "method_detail": None,
                "last_updated": None,
            },
        },
    }


def change_email_consent(
    runtime: SandboxRuntime,
    account: Account,
    profile: Profile,
    action: str,
    base_url: str,
    method: str = "API",
    consented_at: float | None = None,
) -> str | None:
    """Apply one consent action; when the state changed, record the event and send webhooks."""
    now = time.time()
    suppressions = list(profile.email_suppressions or [])
    reasons = {reason for reason, _ in suppressions}
    before = (profile.email_consent, tuple(sorted(reasons)))
    if action == "subscribe":
        profile.email_consent = SUBSCRIBED
        profile.email_consent_ts = consented_at or now
        suppressions = [s for s in suppressions if s[0] not in LIFTED_BY_SUBSCRIBE]
    elif action == "unsubscribe":
        profile.email_consent = UNSUBSCRIBED
        profile.email_consent_ts = now
        if "UNSUBSCRIBE" not in reasons:
            suppressions.append(("UNSUBSCRIBE", now))
    elif action == "unsuppress":
        suppressions = [s for s in suppressions if s[0] != "USER_SUPPRESSED"]
    else:
        reason = {"suppress": "USER_SUPPRESSED", "bounce": "HARD_BOUNCE", "spam": "SPAM_COMPLAINT"}
        if reason[action] not in reasons:
            suppressions.append((reason[action], now))
    profile.email_suppressions = suppressions or None
    after = (profile.email_consent, tuple(sorted({r for r, _ in suppressions})))
    if after == before:
        return None
    profile.email_method = method
    profile.email_last_updated = profile.updated = now

    from app.sandbox.events import consent_event_payload  # events imports this module

    topic = ACTION_TOPICS[action]
    event_id, payload = consent_event_payload(account, profile, topic, action, base_url, now)
    runtime.webhooks.publish(account, topic, event_id, payload)
    return topic


def _profile_for_consent(account: Account, attrs: Any, profile_id: Any) -> Profile:
    if isinstance(profile_id, str) and profile_id in account.profiles:
        return account.profiles[profile_id]
    found = matching_profiles(account, attrs)
    if found:
        return found[0]
    profile = create_profile(account)
    for name in ("email", "phone_number"):
        value = getattr(attrs, name, None)
        if isinstance(value, str):
            account.index_identifier(profile, name, value)
    return profile


async def _consent_job(request: Request, action: str, job_type: str) -> tuple[Any, Any]:
    runtime, account = runtime_of(request), account_of(request)
    schema: type[SubscriptionBody | SuppressionBody] = (
        SubscriptionBody if action in ("subscribe", "unsubscribe") else SuppressionBody
    )
    body = decode_body(await read_body(request), schema)
    check_type(body.data.type, job_type)
    profiles = body.data.attributes.profiles
    rows: list[ConsentProfile] | list[SuppressionProfile] = (
        profiles.data if isinstance(profiles, ProfileList | SuppressionList) else []
    )
    pointer = "/data/attributes/profiles/data"
    if len(rows) > _LIMITS[action]:
        raise invalid(f"At most {_LIMITS[action]} profiles may be sent per request.", pointer)
    plans = [_plan_row(account, action, row, f"{pointer}/{i}", body) for i, row in enumerate(rows)]
    base_url = str(request.base_url).rstrip("/")

    def work(job: Any) -> None:
        for profile_row, email_when, sms_action in plans:
            profile = _profile_for_consent(
                account, profile_row.attributes, getattr(profile_row, "id", None)
            )
            if email_when is not False:
                changed = change_email_consent(
                    runtime, account, profile, action, base_url, consented_at=email_when or None
                )
                job.skipped_count += changed is None
            if sms_action:
                profile.sms_consent = sms_action
                profile.sms_consent_ts = time.time()
            job.completed_count += 1

    stalled = runtime.faults.match("POST", request.url.path, ("stall_jobs",)) is not None
    cancelled = runtime.faults.match("POST", request.url.path, ("cancel_jobs",)) is not None
    job = runtime.jobs.submit(job_type, account, len(plans), work, stalled, cancelled=cancelled)
    return job, body


def _plan_row(account: Account, action: str, row: Any, pointer: str, body: Any) -> tuple:
    check_type(row.type, "profile", f"{pointer}/type")
    attrs = row.attributes
    check_identifiers(attrs, f"{pointer}/attributes")
    if action in ("suppress", "unsuppress"):
        return row, 0.0, None
    if not isinstance(attrs.email, str) and not isinstance(attrs.phone_number, str):
        raise invalid("Each profile needs an email or phone_number.", f"{pointer}/attributes")
    wanted = SUBSCRIBED if action == "subscribe" else UNSUBSCRIBED
    email_when: float | bool = False
    sms_action = None
    subs = attrs.subscriptions
    for channel_name in ("email", "sms"):
        channel = getattr(subs, channel_name)
        if channel is UNSET or channel.marketing is UNSET:
            continue
        marketing = channel.marketing
        spot = f"{pointer}/attributes/subscriptions/{channel_name}/marketing"
        if marketing.consent != wanted:
            raise invalid(f"consent must be {wanted}.", f"{spot}/consent")
        when = 0.0
        if isinstance(marketing.consented_at, str):
            when = parse_time(marketing.consented_at, f"{spot}/consented_at")
            if when > time.time():
                raise invalid("consented_at must be in the past.", f"{spot}/consented_at")
        elif action == "subscribe" and getattr(body.data.attributes, "historical_import", False):
            raise invalid(
                "consented_at is required for a historical import.", f"{spot}/consented_at"
            )
        if channel_name == "email":
            email_when = when
        else:
            sms_action = wanted
    return row, email_when, sms_action


@post("/api/profile-subscription-bulk-create-jobs", opt={"operation": "bulk_subscribe_profiles"})
async def bulk_subscribe(request: Request) -> Response:
    await _consent_job(request, "subscribe", "profile-subscription-bulk-create-job")
    return accepted_empty()


@post("/api/profile-subscription-bulk-delete-jobs", opt={"operation": "bulk_unsubscribe_profiles"})
async def bulk_unsubscribe(request: Request) -> Response:
    await _consent_job(request, "unsubscribe", "profile-subscription-bulk-delete-job")
    return accepted_empty()


def suppression_job_document(request: Request, job: Any, path: str, status: int) -> Response:
    attributes = job.attributes()
    resource = {
        "type": job.type,
        "id": job.id,
        "attributes": {
            k: attributes[k]
            for k in ("status", "created_at", "total_count", "completed_count", "completed_at")
        }
        | {"skipped_count": job.skipped_count},
        "links": {"self": self_link(request, f"{path}/{job.id}/")},
    }
    return document({"data": resource, "links": resource["links"]}, status)


@post("/api/profile-suppression-bulk-create-jobs", opt={"operation": "bulk_suppress_profiles"})
async def bulk_suppress(request: Request) -> Response:
    job, _ = await _consent_job(request, "suppress", "profile-suppression-bulk-create-job")
    return suppression_job_document(request, job, "/api/profile-suppression-bulk-create-jobs", 202)


@post("/api/profile-suppression-bulk-delete-jobs", opt={"operation": "bulk_unsuppress_profiles"})
async def bulk_unsuppress(request: Request) -> Response:
    job, _ = await _consent_job(request, "unsuppress", "profile-suppression-bulk-delete-job")
    return suppression_job_document(request, job, "/api/profile-suppression-bulk-delete-jobs", 202)


def _job_reader(path: str, job_type: str, operation: str) -> Any:
    @get(f"{path}/{{job_id:str}}", opt={"operation": operation}, name=operation)
    async def read_job(request: Request, job_id: FromPath[str]) -> Response:
        job = runtime_of(request).jobs.find(account_of(request), job_type, job_id)
        if job is None:
            raise ApiError(404, "not_found", f"A job with id {job_id} does not exist.")
        return suppression_job_document(request, job, path, 200)

    return read_job


ROUTES = [
    bulk_subscribe,
    bulk_unsubscribe,
    bulk_suppress,
    bulk_unsuppress,
    _job_reader(
        "/api/profile-suppression-bulk-create-jobs",
        "profile-suppression-bulk-create-job",
        "get_bulk_suppress_profiles_job",
    ),
    _job_reader(
        "/api/profile-suppression-bulk-delete-jobs",
        "profile-suppression-bulk-delete-job",
        "get_bulk_unsuppress_profiles_job",
    ),
]

__all__ = ["NEVER_SUBSCRIBED", "ROUTES", "change_email_consent", "subscriptions_of"]
