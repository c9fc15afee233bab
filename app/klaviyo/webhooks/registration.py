"""Registering the API's webhook endpoint with Klaviyo (the sandbox in `make run`) under a secret.

The secret is generated here, stored encrypted in the `klaviyo` settings group and given to
Klaviyo through its webhooks API (POST /api/webhooks); it is never printed or logged.
"""

from __future__ import annotations

import asyncio
import secrets

import httpx
import psycopg
import structlog

from app.config import Config
from app.klaviyo.client import KlaviyoClient
from app.klaviyo.credentials import load_credential, store_webhook_secret
from app.klaviyo.secrets import SecretCipher
from app.klaviyo.settings import load_settings
from app.klaviyo.webhooks.routes import WEBHOOK_PATH
from app.klaviyo.webhooks.topics import CONSENT_TOPICS

log = structlog.get_logger(__name__)

WEBHOOK_NAME = "Store consent mirror"
SANDBOX_DEFAULT_API_KEY = "pk_sandbox_demo_key_0123456789"


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def webhook_document(endpoint_url: str, secret: str) -> dict:
    return {
        "data": {
            "type": "webhook",
            "attributes": {
                "name": WEBHOOK_NAME,
                "description": "Consent changes flowing back to the store.",
                "endpoint_url": endpoint_url,
                "secret_key": secret,
            },
            "relationships": {
                "webhook-topics": {
                    "data": [{"type": "webhook-topic", "id": topic} for topic in CONSENT_TOPICS]
                }
            },
        }
    }


async def register_webhook(client: KlaviyoClient, endpoint_url: str, secret: str) -> str:
    """Replaces any webhook of ours for the same endpoint; answers the new webhook's id."""
    listing = await client.request("GET", "/api/webhooks")
    for webhook in listing.json().get("data") or []:
        if (webhook.get("attributes") or {}).get("endpoint_url") == endpoint_url:
            await client.request("DELETE", f"/api/webhooks/{webhook['id']}")
    document = webhook_document(endpoint_url, secret)
    created = await client.request("POST", "/api/webhooks", json=document)
    return created.json()["data"]["id"]


async def register_webhook_with_new_secret(
    conn: psycopg.AsyncConnection,
    cipher: SecretCipher,
    *,
    klaviyo_base_url: str,
    endpoint_url: str,
    timeout_s: float = 10.0,
    api_key: str | None = None,
) -> str:
    """Generates a secret, stores it, registers the endpoint under it; answers the webhook id.

    The secret is committed before Klaviyo learns it, so no signed delivery can arrive that the
    endpoint could not verify.
    """
    credential = await load_credential(conn, cipher)
    key = api_key or (credential.api_key if credential else SANDBOX_DEFAULT_API_KEY)
    revision = (await load_settings(conn)).revision
    secret = new_webhook_secret()
    await store_webhook_secret(conn, cipher, secret)
    await conn.commit()
    async with httpx.AsyncClient(timeout=timeout_s) as http:
        client = KlaviyoClient(klaviyo_base_url, key, revision, http)
        webhook_id = await register_webhook(client, endpoint_url, secret)
    log.info("klaviyo_webhook_registered", webhook_id=webhook_id, endpoint_url=endpoint_url)
    return webhook_id


def register_sandbox_webhook(config: Config, database_url: str, api_url: str) -> str:
    """`make run` in sandbox mode: wire the sandbox's consent webhooks to this API."""
    sandbox_url = f"http://127.0.0.1:{config.sandbox_port}"

    async def run() -> str:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            return await register_webhook_with_new_secret(
                conn,
                SecretCipher.from_keys(config.app_encryption_keys),
                klaviyo_base_url=sandbox_url,
                endpoint_url=f"{api_url.rstrip('/')}{WEBHOOK_PATH}",
                timeout_s=config.klaviyo_timeout_s,
            )

    return asyncio.run(run())
