"""Control surface under /__sandbox, outside Klaviyo's paths: reset, stats, faults, inspection.

All bodies and answers are plain JSON. Reads take `?account=<account id>` and default to the
account of the first configured key.

  GET    /__sandbox/health                     {"ok": true, "accounts": [ids]}
  POST   /__sandbox/reset                      {"rate_limits": "off"|"klaviyo"} (optional)
  GET    /__sandbox/stats                      counts, requests_per_status, jobs_pending, ...
  GET    /__sandbox/faults                     active rules
  POST   /__sandbox/faults                     one rule (see app.sandbox.faults) -> rule with id
  DELETE /__sandbox/faults                     clear all;  DELETE /__sandbox/faults/{id}: one
  GET    /__sandbox/rate-limits                {"mode", "now"}
  POST   /__sandbox/rate-limits                {"mode": "off"|"klaviyo", "frozen_at": epoch|null,
                                                "advance_s": seconds}
  POST   /__sandbox/profiles/{id}/{action}     action: subscribe, unsubscribe, suppress,
                                               unsuppress, bounce, spam -> {"topic": ...|null}
  GET    /__sandbox/profiles/{id}              the profile with subscriptions
  GET    /__sandbox/profiles?email=&phone_number=&external_id=   matching profiles
  GET    /__sandbox/events?metric=&profile_id=&email=&limit=      stored events, oldest first
  GET    /__sandbox/catalog                    {"items", "variants", "categories"}
  GET    /__sandbox/coupons                    {"coupons", "coupon_codes"}
  GET    /__sandbox/jobs?status=               bulk jobs with counts and errors
  POST   /__sandbox/webhooks                   {"endpoint_url", "secret_key", "topics"?: [...],
                                                "name"?} -> {"id", "topics"}
  GET    /__sandbox/webhook-deliveries         every delivery with attempts and statuses
  GET    /__sandbox/requests                   accepted /api request bodies (when recording)
  POST   /__sandbox/requests                   {"recording": true|false}; DELETE clears the log
  POST   /__sandbox/seed                       {"profiles": N}: N synthetic profiles, fast
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import FromPath

from app.sandbox.accounts import register_webhook
from app.sandbox.catalog_model import KINDS, resource_document
from app.sandbox.config import RATE_LIMIT_MODES
from app.sandbox.consent import ACTION_TOPICS, change_email_consent
from app.sandbox.events import event_id
from app.sandbox.faults import FaultRuleError
from app.sandbox.jsonapi import iso
from app.sandbox.profiles import profile_resource
from app.sandbox.runtime import SandboxRuntime, runtime_of
from app.sandbox.store import Account, Profile
from app.sandbox.webhooks import CONSENT_TOPICS

PREFIX = "/__sandbox"


def _json(body: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


def _problem(detail: str, status: int = 400) -> Response:
    return _json({"error": detail}, status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        body = None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _account(runtime: SandboxRuntime, request: Request) -> Account:
    wanted = request.query_params.get("account")
    return (runtime.account_by_id(wanted) if wanted else None) or runtime.default_account()


def _locate(runtime: SandboxRuntime, profile_id: str) -> tuple[Account, Profile] | None:
    for account in runtime.accounts.values():
        if profile_id in account.profiles:
            return account, account.profiles[profile_id]
    return None


@get(f"{PREFIX}/health")
async def health(request: Request) -> Response:
    return _json({"ok": True, "accounts": [a.id for a in runtime_of(request).accounts.values()]})


@post(f"{PREFIX}/reset")
async def reset(request: Request) -> Response:
    body = await _body(request)
    mode = body.get("rate_limits")
    if mode is not None and mode not in RATE_LIMIT_MODES:
        return _problem("rate_limits must be off or klaviyo")
    runtime_of(request).reset(mode)
    return _json({"reset": True})


@get(f"{PREFIX}/stats")
async def stats(request: Request) -> Response:
    return _json(runtime_of(request).stats())


@get(f"{PREFIX}/faults")
async def list_faults(request: Request) -> Response:
    return _json(runtime_of(request).faults.describe())


@post(f"{PREFIX}/faults")
async def add_fault(request: Request) -> Response:
    try:
        rule = runtime_of(request).faults.add(await _body(request))
    except (FaultRuleError, ValueError) as exc:
        return _problem(f"invalid fault rule: {exc}")
    return _json(msgspec.to_builtins(rule), 201)


@delete(f"{PREFIX}/faults", status_code=200)
async def clear_faults(request: Request) -> Response:
    runtime_of(request).faults.rules = []
    return _json({"cleared": True})


@delete(f"{PREFIX}/faults/{{rule_id:int}}", status_code=200)
async def remove_fault(request: Request, rule_id: FromPath[int]) -> Response:
    if not runtime_of(request).faults.remove(rule_id):
        return _problem(f"no fault rule {rule_id}", 404)
    return _json({"removed": rule_id})


@get(f"{PREFIX}/rate-limits")
async def read_rate_limits(request: Request) -> Response:
    limiter = runtime_of(request).limiter
    return _json(
        {"mode": limiter.mode, "now": limiter.now(), "frozen": limiter.frozen_at is not None}
    )


@post(f"{PREFIX}/rate-limits")
async def set_rate_limits(request: Request) -> Response:
    limiter = runtime_of(request).limiter
    body = await _body(request)
    mode = body.get("mode", limiter.mode)
    if mode not in RATE_LIMIT_MODES:
        return _problem("mode must be off or klaviyo")
    limiter.mode = mode
    if "frozen_at" in body:
        limiter.frozen_at = None if body["frozen_at"] is None else float(body["frozen_at"])
        limiter.offset_s = 0.0
    limiter.offset_s += float(body.get("advance_s", 0.0))
    return _json({"mode": limiter.mode, "now": limiter.now()})


@post(f"{PREFIX}/profiles/{{profile_id:str}}/{{action:str}}")
async def consent_action(
    request: Request, profile_id: FromPath[str], action: FromPath[str]
) -> Response:
    runtime = runtime_of(request)
    if action not in ACTION_TOPICS:
        return _problem(f"action must be one of {', '.join(ACTION_TOPICS)}", 404)
    found = _locate(runtime, profile_id)
    if found is None:
        return _problem(f"no profile {profile_id}", 404)
    account, profile = found
    base_url = str(request.base_url).rstrip("/")
    topic = change_email_consent(runtime, account, profile, action, base_url, method="SANDBOX")
    return _json({"profile_id": profile_id, "action": action, "topic": topic})


@get(f"{PREFIX}/profiles/{{profile_id:str}}")
async def read_profile(request: Request, profile_id: FromPath[str]) -> Response:
    found = _locate(runtime_of(request), profile_id)
    if found is None:
        return _problem(f"no profile {profile_id}", 404)
    return _json(profile_resource(request, found[1], with_subscriptions=True))


@get(f"{PREFIX}/profiles")
async def find_profiles(request: Request) -> Response:
    account = _account(runtime_of(request), request)
    matches = []
    for name in ("email", "phone_number", "external_id"):
        value = request.query_params.get(name)
        if value and (profile := account.find_by(name, value)) is not None:
            matches.append(profile)
    data = [profile_resource(request, p, True) for p in dict.fromkeys(matches)]
    return _json({"data": data})


@get(f"{PREFIX}/events")
async def read_events(request: Request) -> Response:
    account = _account(runtime_of(request), request)
    params = request.query_params
    metric = account.metrics.get(params["metric"]) if "metric" in params else None
    if "metric" in params and metric is None:
        return _json({"data": []})
    profile_id = params.get("profile_id")
    if "email" in params:
        owner = account.find_by("email", params["email"])
        if owner is None:
            return _json({"data": []})
        profile_id = owner.id
    limit = int(params.get("limit", "10000"))
    data = []
    for event in account.events:
        if metric is not None and event.metric_id != metric.id:
            continue
        if profile_id is not None and event.profile_id != profile_id:
            continue
        data.append(
            {
                "id": event_id(event),
                "metric": account.metrics_by_id[event.metric_id].name,
                "profile_id": event.profile_id,
                "time": iso(event.timestamp),
                "unique_id": event.unique_id,
                "value": event.value,
                "value_currency": event.value_currency,
                "properties": msgspec.json.decode(event.properties),
            }
        )
        if len(data) >= limit:
            break
    return _json({"data": data})


@get(f"{PREFIX}/catalog")
async def read_catalog(request: Request) -> Response:
    account = _account(runtime_of(request), request)
    base = str(request.base_url).rstrip("/")
    return _json(
        {
            kind.plural: [resource_document(base, kind, r) for r in kind.store(account).values()]
            for kind in KINDS
        }
    )


@get(f"{PREFIX}/coupons")
async def read_coupons(request: Request) -> Response:
    account = _account(runtime_of(request), request)
    return _json(
        {
            "coupons": [{"id": c.id, **c.attributes} for c in account.coupons.values()],
            "coupon_codes": [
                {"id": c.id, **c.attributes, "expires_at": iso(c.attributes["expires_at"])}
                for c in account.coupon_codes.values()
            ],
        }
    )


@get(f"{PREFIX}/jobs")
async def read_jobs(request: Request) -> Response:
    status = request.query_params.get("status")
    jobs = [
        {
            "id": job.id,
            "type": job.type,
            "account": job.account.id,
            **job.attributes(),
            "skipped_count": job.skipped_count,
            "errors": job.errors,
        }
        for job in runtime_of(request).jobs.jobs.values()
        if status is None or job.status == status
    ]
    return _json({"data": jobs})


@post(f"{PREFIX}/webhooks")
async def add_webhook(request: Request) -> Response:
    runtime = runtime_of(request)
    body = await _body(request)
    topics = body.get("topics") or list(CONSENT_TOPICS)
    try:
        webhook = register_webhook(
            _account(runtime, request),
            str(body.get("name", "sandbox")),
            str(body.get("endpoint_url", "")),
            str(body.get("secret_key", "")),
            list(topics),
        )
    except Exception as exc:  # ApiError carries the reason in its detail
        return _problem(getattr(exc, "detail", str(exc)))
    return _json({"id": webhook.id, "topics": list(webhook.topics)}, 201)


@get(f"{PREFIX}/webhook-deliveries")
async def read_deliveries(request: Request) -> Response:
    return _json({"data": [d.describe() for d in runtime_of(request).webhooks.deliveries]})


@get(f"{PREFIX}/requests")
async def read_requests(request: Request) -> Response:
    runtime = runtime_of(request)
    return _json({"recording": runtime.recording, "data": runtime.recorded})


@post(f"{PREFIX}/requests")
async def set_recording(request: Request) -> Response:
    runtime = runtime_of(request)
    runtime.recording = bool((await _body(request)).get("recording", True))
    return _json({"recording": runtime.recording})


@delete(f"{PREFIX}/requests", status_code=200)
async def clear_requests(request: Request) -> Response:
    runtime_of(request).recorded = []
    return _json({"cleared": True})


@post(f"{PREFIX}/seed")
async def seed(request: Request) -> Response:
    """Synthetic profiles straight into the store, for demos and the memory benchmark."""
    account = _account(runtime_of(request), request)
    count = int((await _body(request)).get("profiles", 0))
    now = time.time()
    start = len(account.profiles)
    for n in range(start, start + count):
        profile = Profile(f"SEED{n:022d}", now)
        account.add_profile(profile)
        account.index_identifier(profile, "email", f"seed{n}@sandbox.invalid")
        account.index_identifier(profile, "external_id", f"seed-{n}")
        profile.first_name = "Seed"
    return _json({"profiles": len(account.profiles)})


ROUTES = [
    health,
    reset,
    stats,
    list_faults,
    add_fault,
    clear_faults,
    remove_fault,
    read_rate_limits,
    set_rate_limits,
    consent_action,
    read_profile,
    find_profiles,
    read_events,
    read_catalog,
    read_coupons,
    read_jobs,
    add_webhook,
    read_deliveries,
    read_requests,
    set_recording,
    clear_requests,
    seed,
]
