"""The set-up steps of the main job, each one idempotent, so a restart repeats them harmlessly."""

from __future__ import annotations

import httpx
import structlog

from app.config import Config

log = structlog.get_logger(__name__)

SANDBOX_API_KEY = "pk_sandbox_demo_key_0123456789"
ADMIN_EMAIL = "admin@example.com"
# Surfaces with a bootstrap endpoint; coupons have none (the contract: per-discount resync).
# Categories first: catalog items link to them.
BOOTSTRAP_SURFACES = ("categories", "catalog", "profiles")


def with_runtime_secrets(config: Config) -> Config:
    from app.local_secrets import with_local_secrets

    return with_local_secrets(config)


def admin_token(config: Config, database_url: str) -> str:
    from app.auth.tokens import issue_admin_token

    return issue_admin_token(config, database_url, email=ADMIN_EMAIL, role="admin").token


def load_store_if_empty(database_url: str, dataset: str) -> str | None:
    from app.store.loading import load_dataset_if_empty

    return load_dataset_if_empty(database_url, dataset)


def _admin_call(
    method: str, url: str, token: str, doing: str, *, json: object = None, timeout_s: float = 30.0
) -> dict:
    """The `data` of one admin API call as the admin; a failure stops the main job, naming
    what it was doing and what the API answered."""
    response = httpx.request(
        method, url, json=json, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s
    )
    if response.status_code != 200:
        raise RuntimeError(f"{doing} failed: {response.text}")
    return response.json()["data"]


def connect_sandbox_account(api_url: str, token: str) -> None:
    data = _admin_call(
        "POST",
        f"{api_url}/admin/klaviyo/connect",
        token,
        "connecting the sandbox account",
        json={"apiKey": SANDBOX_API_KEY},
    )
    print(f"Connected the sandbox account {data['accountId']}.", flush=True)


def wire_sandbox_webhooks(config: Config, database_url: str, api_url: str) -> None:
    from app.klaviyo.webhooks.registration import register_sandbox_webhook

    register_sandbox_webhook(config, database_url, api_url)
    print("Registered the consent webhook with the sandbox.", flush=True)


def why_nothing_drains(api_url: str, token: str) -> str | None:
    """None when an account is connected and sync is on; otherwise what the operator must do
    (the main job then serves the API without waiting for a backlog that cannot drain)."""
    status = _admin_call(
        "GET", f"{api_url}/admin/klaviyo/status", token, "reading the connection status"
    )
    if not status["connected"]:
        return (
            "no Klaviyo account is connected. Connect one (POST /admin/klaviyo/connect, see the "
            "curl below), then bootstrap the surfaces (python -m app bootstrap categories|catalog|"
            "profiles, in that order)."
        )
    if not status["syncEnabled"]:
        return "the master switch is off (python -m app settings set sync_enabled true)."
    return None


def bootstrap_surfaces(api_url: str, token: str) -> dict[str, int]:
    enqueued: dict[str, int] = {}
    for surface in BOOTSTRAP_SURFACES:
        data = _admin_call(
            "POST",
            f"{api_url}/admin/klaviyo/{surface}/bootstrap",
            token,
            f"bootstrap of {surface}",
            timeout_s=120.0,
        )
        enqueued[surface] = int(data["enqueued"])
    return enqueued


def print_usage(config: Config, api_url: str, token: str, *, keep_serving: bool) -> None:
    sandbox = f"http://127.0.0.1:{config.sandbox_port}" if config.sandbox_mode else None
    lines = [
        "",
        f"Admin API:    {api_url}  (OpenAPI UI at {api_url}/schema)",
        f"Health:       {api_url}/health",
    ]
    if sandbox:
        lines.append(f"Sandbox:      {sandbox}  (stats at {sandbox}/__sandbox/stats)")
    lines += [
        f"Admin token:  {token}",
        "",
        "Try:",
        f'  curl -H "Authorization: Bearer {token}" {api_url}/admin/klaviyo/status',
        f'  curl -H "Authorization: Bearer {token}" "{api_url}/admin/klaviyo/profiles?limit=5"',
    ]
    if not config.sandbox_mode:
        lines.append(
            f'  curl -X POST -H "Authorization: Bearer {token}" -H \'content-type: '
            f'application/json\' -d \'{{"apiKey": "pk_..."}}\' {api_url}/admin/klaviyo/connect'
        )
    if keep_serving:
        lines += ["", "Press Ctrl-C to stop everything."]
    print("\n".join(lines), flush=True)
