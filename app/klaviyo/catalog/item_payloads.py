"""Catalog item payloads: a store variant (with its product) as Klaviyo's catalog-item resource.

Klaviyo requires title, description and url on create; they are derived so none goes out
empty (description falls back to the title, url to the store's product page). A variant with
no usable title or url cannot be represented and is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from app.klaviyo.catalog.ids import catalog_category_id, catalog_item_id
from app.klaviyo.payloads.money import UnknownCurrency, minor_to_amount

# Variant titles that name no option ("Default Title" is what many stores write for a product
# with a single variant): the item title is the product's alone.
_MEANINGLESS_VARIANT_TITLES = {"", "default", "default title", "default variant"}
TITLE_SEPARATOR = " - "


class ItemPayload(msgspec.Struct, frozen=True, kw_only=True):
    """What one variant sends: create attributes, the category links, and a note when a field
    had to be left out (the item still syncs; the note goes to lastError)."""

    variant_id: str
    attributes: dict[str, Any]
    category_ids: tuple[str, ...]
    note: str | None = None


class Unrepresentable(ValueError):
    """A variant Klaviyo cannot hold as a catalog item; the message is the skip reason."""


def item_title(product_title: str | None, variant_title: str | None) -> str:
    """Product title, plus the variant title where it adds something ("Desk - Oak")."""
    product = (product_title or "").strip()
    variant = (variant_title or "").strip()
    if not variant or variant.lower() in _MEANINGLESS_VARIANT_TITLES:
        return product
    if not product:
        return variant
    if variant.lower() in product.lower():
        return product
    return f"{product}{TITLE_SEPARATOR}{variant}"


def item_url(row: Mapping[str, Any], store_url: str | None) -> str | None:
    if (row.get("url") or "").strip():
        return row["url"].strip()
    if store_url:
        return f"{store_url.rstrip('/')}/products/{row.get('handle') or row['product_id']}"
    return None


def item_payload(row: Mapping[str, Any], store_url: str | None = None) -> ItemPayload:
    """The item for one `klaviyo.catalog_item_source` row; raises Unrepresentable."""
    variant_id = row["variant_id"]
    title = item_title(row.get("product_title"), row.get("variant_title"))
    if not title:
        raise Unrepresentable(f"variant {variant_id} has no title (neither product nor variant)")
    url = item_url(row, store_url)
    if not url:
        raise Unrepresentable(
            f"variant {variant_id}: product {row['product_id']} has no url and no store url "
            "is configured (KLAVIYO_STORE_URL)"
        )

    attributes: dict[str, Any] = {
        "external_id": variant_id,
        "title": title,
        "description": (row.get("description") or "").strip() or title,
        "url": url,
        "published": True,
        "custom_metadata": custom_metadata(row),
    }
    note = None
    if row.get("price_minor") is not None:
        try:
            attributes["price"] = minor_to_amount(row["price_minor"], row["currency"])
        except (UnknownCurrency, TypeError) as exc:
            note = f"price left out: {exc}"
    images = image_urls(row)
    if images:
        attributes["image_full_url"] = images[0]
        attributes["images"] = images
    return ItemPayload(
        variant_id=variant_id,
        attributes=attributes,
        category_ids=tuple(row.get("category_ids") or ()),
        note=note,
    )


def image_urls(row: Mapping[str, Any]) -> list[str]:
    """The variant's own image first, then the product's; no blanks, no repeats."""
    urls: list[str] = []
    for key in ("variant_image_url", "product_image_url"):
        value = (row.get(key) or "").strip()
        if value and value not in urls:
            urls.append(value)
    return urls


def custom_metadata(row: Mapping[str, Any]) -> dict[str, Any]:
    """Flat metadata (Klaviyo wants a flat blob); absent facts are left out, not sent as null."""
    metadata = {
        "sku": row.get("sku"),
        "brand": row.get("brand"),
        "inventory_quantity": row.get("inventory_quantity"),
        "product_id": row.get("product_id"),
        "currency": row.get("currency"),
    }
    return {key: value for key, value in metadata.items() if value not in (None, "")}


def category_relationships(category_ids: Sequence[str]) -> dict[str, Any]:
    data = [{"type": "catalog-category", "id": catalog_category_id(c)} for c in category_ids]
    return {"categories": {"data": data}}


def create_entry(payload: ItemPayload) -> dict[str, Any]:
    """One entry of a catalog-item-bulk-create-job."""
    entry: dict[str, Any] = {"type": "catalog-item", "attributes": payload.attributes}
    if payload.category_ids:
        entry["relationships"] = category_relationships(payload.category_ids)
    return entry


def update_entry(payload: ItemPayload) -> dict[str, Any]:
    """One entry of a catalog-item-bulk-update-job: every field, and the full category list so
    a variant that moved between categories leaves the old one."""
    attributes = {k: v for k, v in payload.attributes.items() if k != "external_id"}
    return {
        "type": "catalog-item",
        "id": catalog_item_id(payload.variant_id),
        "attributes": attributes,
        "relationships": category_relationships(payload.category_ids),
    }


def delete_entry(variant_id: str) -> dict[str, Any]:
    return {"type": "catalog-item", "id": catalog_item_id(variant_id)}
