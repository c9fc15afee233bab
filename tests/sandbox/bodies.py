"""Request bodies in Klaviyo's JSON:API shape, shared by the sandbox tests and the contract test."""

from __future__ import annotations

from typing import Any


def profile(email: str | None = None, **attributes: Any) -> dict[str, Any]:
    attrs = {"email": email, **attributes} if email is not None else dict(attributes)
    return {"data": {"type": "profile", "attributes": attrs}}


def event(metric: str, profile_attrs: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    attrs = {
        "properties": attributes.pop("properties", {}),
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": profile_attrs}},
        **attributes,
    }
    return {"data": {"type": "event", "attributes": attrs}}


def bulk_event_entry(profile_attrs: dict[str, Any], events: list[dict[str, Any]]) -> dict:
    return {
        "type": "event-bulk-create",
        "attributes": {
            "profile": {"data": {"type": "profile", "attributes": profile_attrs}},
            "events": {"data": [{"type": "event", "attributes": e} for e in events]},
        },
    }


def bulk_event_attrs(metric: str, **attributes: Any) -> dict[str, Any]:
    return {
        "properties": attributes.pop("properties", {}),
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        **attributes,
    }


def bulk_events(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {"events-bulk-create": {"data": entries}},
        }
    }


def bulk_import(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {
                "profiles": {"data": [{"type": "profile", "attributes": r} for r in rows]}
            },
        }
    }


def subscribe(emails: list[str], historical: bool = False) -> dict[str, Any]:
    consent: dict[str, Any] = {"consent": "SUBSCRIBED"}
    if historical:
        consent["consented_at"] = "2024-01-02T03:04:05+00:00"
    rows = [
        {
            "type": "profile",
            "attributes": {"email": e, "subscriptions": {"email": {"marketing": dict(consent)}}},
        }
        for e in emails
    ]
    attributes: dict[str, Any] = {"profiles": {"data": rows}, "custom_source": "sandbox tests"}
    if historical:
        attributes["historical_import"] = True
    return {"data": {"type": "profile-subscription-bulk-create-job", "attributes": attributes}}


def unsubscribe(emails: list[str]) -> dict[str, Any]:
    rows = [
        {
            "type": "profile",
            "attributes": {
                "email": e,
                "subscriptions": {"email": {"marketing": {"consent": "UNSUBSCRIBED"}}},
            },
        }
        for e in emails
    ]
    return {
        "data": {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {"profiles": {"data": rows}},
        }
    }


def suppression(emails: list[str], delete: bool = False) -> dict[str, Any]:
    kind = "delete" if delete else "create"
    rows = [{"type": "profile", "attributes": {"email": e}} for e in emails]
    return {
        "data": {
            "type": f"profile-suppression-bulk-{kind}-job",
            "attributes": {"profiles": {"data": rows}},
        }
    }


def item_attrs(external_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "title": f"Item {external_id}",
        "description": "A thing to sell",
        "url": f"https://shop.example.com/items/{external_id}",
        "price": 12.5,
        **extra,
    }


def item(external_id: str, categories: list[str] | None = None, **extra: Any) -> dict:
    data: dict[str, Any] = {"type": "catalog-item", "attributes": item_attrs(external_id, **extra)}
    if categories:
        data["relationships"] = {
            "categories": {"data": [{"type": "catalog-category", "id": c} for c in categories]}
        }
    return {"data": data}


def variant(external_id: str, item_id: str, **extra: Any) -> dict[str, Any]:
    attrs = {
        "external_id": external_id,
        "title": f"Variant {external_id}",
        "description": "One size",
        "sku": f"SKU-{external_id}",
        "inventory_quantity": 5,
        "price": 12.5,
        "url": f"https://shop.example.com/variants/{external_id}",
        **extra,
    }
    relationships = {"item": {"data": {"type": "catalog-item", "id": item_id}}}
    return {
        "data": {"type": "catalog-variant", "attributes": attrs, "relationships": relationships}
    }


def category(external_id: str, name: str = "Shoes") -> dict[str, Any]:
    return {
        "data": {
            "type": "catalog-category",
            "attributes": {"external_id": external_id, "name": name},
        }
    }


def catalog_job(kind: str, action: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    plural = {"item": "items", "variant": "variants", "category": "categories"}[kind]
    return {
        "data": {
            "type": f"catalog-{kind}-bulk-{action}-job",
            "attributes": {plural: {"data": rows}},
        }
    }


def coupon(external_id: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "coupon",
            "attributes": {"external_id": external_id, "description": "10% off"},
        }
    }


def coupon_code_data(coupon_id: str, code: str) -> dict[str, Any]:
    return {
        "type": "coupon-code",
        "attributes": {"unique_code": code, "expires_at": "2030-01-01T00:00:00+00:00"},
        "relationships": {"coupon": {"data": {"type": "coupon", "id": coupon_id}}},
    }


def coupon_code_job(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": {
            "type": "coupon-code-bulk-create-job",
            "attributes": {"coupon-codes": {"data": rows}},
        }
    }


def webhook(url: str, secret: str, topics: list[str]) -> dict[str, Any]:
    return {
        "data": {
            "type": "webhook",
            "attributes": {"name": "store consent", "endpoint_url": url, "secret_key": secret},
            "relationships": {
                "webhook-topics": {"data": [{"type": "webhook-topic", "id": t} for t in topics]}
            },
        }
    }
