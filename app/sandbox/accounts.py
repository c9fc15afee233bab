"""Accounts and Klaviyo's webhooks API: the account record, webhook registration and topics."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath
from msgspec import UNSET, Struct, UnsetType, field

from app.sandbox.jsonapi import (
    ApiError,
    check_type,
    decode_body,
    document,
    invalid,
    iso,
    new_ulid,
    self_link,
)
from app.sandbox.runtime import account_of, read_body
from app.sandbox.store import Account, Webhook
from app.sandbox.webhooks import CONSENT_TOPICS


def account_resource(request: Request, account: Account) -> dict[str, Any]:
    return {
        "type": "account",
        "id": account.id,
        "attributes": {
            "test_account": True,
            "contact_information": {
                "default_sender_name": "Sandbox Store",
                "default_sender_email": "store@sandbox.invalid",
                "website_url": "https://sandbox.invalid",
                "organization_name": f"Sandbox account {account.id}",
                "street_address": {
                    "address1": None,
                    "address2": None,
                    "city": None,
                    "region": None,
                    "country": None,
                    "zip": None,
                },
            },
            "industry": None,
            "timezone": "UTC",
            "preferred_currency": "USD",
            "public_api_key": account.id,
            "locale": "en-US",
        },
        "links": {"self": self_link(request, f"/api/accounts/{account.id}/")},
    }


@get("/api/accounts", opt={"operation": "get_accounts"})
async def get_accounts(request: Request) -> Response:
    data = [account_resource(request, account_of(request))]
    return document({"data": data, "links": {"self": str(request.url)}})


@get("/api/accounts/{account_id:str}", opt={"operation": "get_account"})
async def get_account(request: Request, account_id: FromPath[str]) -> Response:
    account = account_of(request)
    if account_id != account.id:
        raise ApiError(404, "not_found", f"An account with id {account_id} does not exist.")
    return document({"data": account_resource(request, account)})


class TopicRef(Struct, forbid_unknown_fields=True):
    type: str
    id: str


class TopicList(Struct, forbid_unknown_fields=True):
    data: list[TopicRef]


class WebhookRelations(Struct, forbid_unknown_fields=True):
    webhook_topics: TopicList = field(name="webhook-topics")


class WebhookAttributes(Struct, forbid_unknown_fields=True):
    name: str
    endpoint_url: str
    secret_key: str
    description: str | None | UnsetType = UNSET


class WebhookData(Struct, forbid_unknown_fields=True):
    type: str
    attributes: WebhookAttributes
    relationships: WebhookRelations


class WebhookBody(Struct, forbid_unknown_fields=True):
    data: WebhookData


def webhook_resource(request: Request, webhook: Webhook) -> dict[str, Any]:
    return {
        "type": "webhook",
        "id": webhook.id,
        "attributes": {
            "name": webhook.name,
            "description": webhook.description,
            "endpoint_url": webhook.endpoint_url,
            "enabled": webhook.enabled,
            "created_at": iso(webhook.created_at),
            "updated_at": iso(webhook.updated_at),
        },
        "relationships": {
            "webhook-topics": {
                "data": [{"type": "webhook-topic", "id": topic} for topic in webhook.topics]
            }
        },
        "links": {"self": self_link(request, f"/api/webhooks/{webhook.id}/")},
    }


def register_webhook(
    account: Account,
    name: str,
    url: str,
    secret: str,
    topics: list[str],
    description: str | None = None,
    pointer: str = "/data",
) -> Webhook:
    """Shared by the API and the control surface; the secret is stored, never returned."""
    if not url.startswith(("http://", "https://")):
        raise invalid("endpoint_url must be an http(s) URL.", f"{pointer}/attributes/endpoint_url")
    if not secret:
        raise invalid("secret_key must not be empty.", f"{pointer}/attributes/secret_key")
    for i, topic in enumerate(topics):
        if topic not in CONSENT_TOPICS:
            raise invalid(
                f"'{topic}' is not a webhook topic of this account.",
                f"{pointer}/relationships/webhook-topics/data/{i}/id",
            )
    webhook = Webhook(new_ulid(), name, url, secret, tuple(topics), time.time(), description)
    account.webhooks[webhook.id] = webhook
    return webhook


@post("/api/webhooks", opt={"operation": "create_webhook"})
async def create_webhook(request: Request) -> Response:
    account = account_of(request)
    body = decode_body(await read_body(request), WebhookBody)
    check_type(body.data.type, "webhook")
    refs = body.data.relationships.webhook_topics.data
    for i, ref in enumerate(refs):
        check_type(ref.type, "webhook-topic", f"/data/relationships/webhook-topics/data/{i}/type")
    attrs = body.data.attributes
    description = attrs.description if isinstance(attrs.description, str) else None
    webhook = register_webhook(
        account,
        attrs.name,
        attrs.endpoint_url,
        attrs.secret_key,
        [ref.id for ref in refs],
        description,
    )
    return document({"data": webhook_resource(request, webhook)}, 201)


@get("/api/webhooks", opt={"operation": "get_webhooks"})
async def list_webhooks(request: Request) -> Response:
    data = [webhook_resource(request, w) for w in account_of(request).webhooks.values()]
    return document({"data": data, "links": {"self": str(request.url)}})


@get("/api/webhooks/{webhook_id:str}", opt={"operation": "get_webhook"})
async def get_webhook(request: Request, webhook_id: FromPath[str]) -> Response:
    webhook = account_of(request).webhooks.get(webhook_id)
    if webhook is None:
        raise ApiError(404, "not_found", f"A webhook with id {webhook_id} does not exist.")
    return document({"data": webhook_resource(request, webhook)})


@delete("/api/webhooks/{webhook_id:str}", opt={"operation": "delete_webhook"}, status_code=204)
async def delete_webhook(request: Request, webhook_id: FromPath[str]) -> None:
    if account_of(request).webhooks.pop(webhook_id, None) is None:
        raise ApiError(404, "not_found", f"A webhook with id {webhook_id} does not exist.")
    return None


@get("/api/webhook-topics", opt={"operation": "get_webhook_topics"})
async def list_topics(request: Request) -> Response:
    data = [
        {
            "type": "webhook-topic",
            "id": topic,
            "links": {"self": self_link(request, f"/api/webhook-topics/{topic}/")},
        }
        for topic in CONSENT_TOPICS
    ]
    return document({"data": data, "links": {"self": str(request.url)}})


ROUTES = [
    get_accounts,
    get_account,
    create_webhook,
    list_webhooks,
    get_webhook,
    delete_webhook,
    list_topics,
]
