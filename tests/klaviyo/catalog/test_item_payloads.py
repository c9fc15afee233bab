"""Catalog item payloads from a source row: derived required fields, left-out fields, skips."""

from __future__ import annotations

import pytest

from app.klaviyo.catalog.bulk_jobs import CATEGORIES, ITEMS, entry_index
from app.klaviyo.catalog.ids import catalog_item_id, external_id_of
from app.klaviyo.catalog.item_payloads import (
    Unrepresentable,
    create_entry,
    item_payload,
    item_title,
    update_entry,
)


def source(**overrides) -> dict:
    row = {
        "variant_id": "v1",
        "product_id": "p1",
        "sku": "SKU-1",
        "variant_title": "Red",
        "price_minor": 1999,
        "currency": "USD",
        "inventory_quantity": 3,
        "variant_image_url": None,
        "product_title": "Shirt",
        "description": "Cotton",
        "handle": "shirt",
        "url": None,
        "brand": None,
        "product_image_url": None,
        "live": True,
        "category_ids": ["c1"],
    }
    return row | overrides


@pytest.mark.parametrize(
    ("product", "variant", "expected"),
    [
        ("Shirt", "Red", "Shirt - Red"),
        ("Shirt", "Default Title", "Shirt"),
        ("Shirt", None, "Shirt"),
        ("Red Shirt", "red", "Red Shirt"),
        ("", "Red", "Red"),
        ("  ", "  ", ""),
    ],
)
def test_title(product, variant, expected) -> None:
    assert item_title(product, variant) == expected


def test_id_is_built_in_one_place() -> None:
    assert catalog_item_id("v1") == "$custom:::$default:::v1"
    assert external_id_of(catalog_item_id("a:::b")) == "a:::b"
    with pytest.raises(ValueError):
        catalog_item_id("")


def test_no_price_is_left_out_and_no_description_falls_back() -> None:
    payload = item_payload(source(price_minor=None, description="  "), "https://shop.example")
    assert "price" not in payload.attributes
    assert payload.attributes["description"] == "Shirt - Red"
    assert payload.attributes["url"] == "https://shop.example/products/shirt"
    assert payload.note is None


@pytest.mark.parametrize(
    ("currency", "price"), [("USD", 19.99), ("HUF", 19.99), ("IQD", 1.999), ("JPY", 1999)]
)
def test_price_uses_the_iso_minor_unit(currency, price) -> None:
    payload = item_payload(source(currency=currency), "https://shop.example")
    assert payload.attributes["price"] == price


def test_unknown_currency_leaves_price_out_with_a_note() -> None:
    payload = item_payload(source(currency="XYZ"), "https://shop.example")
    assert "price" not in payload.attributes
    assert "XYZ" in payload.note


def test_no_title_or_no_url_is_unrepresentable() -> None:
    with pytest.raises(Unrepresentable, match="no title"):
        item_payload(source(product_title="", variant_title=None), "https://shop.example")
    with pytest.raises(Unrepresentable, match="no url"):
        item_payload(source(), None)


def test_no_required_field_is_ever_empty() -> None:
    payload = item_payload(source(description=None, sku=None, brand=""), "https://s.example")
    for field in ("external_id", "title", "description", "url"):
        assert payload.attributes[field]
    assert payload.attributes["custom_metadata"] == {
        "inventory_quantity": 3,
        "product_id": "p1",
        "currency": "USD",
    }


def test_entries_carry_categories_and_update_replaces_them() -> None:
    payload = item_payload(source(category_ids=[]), "https://s.example")
    assert "relationships" not in create_entry(payload)
    update = update_entry(payload)
    assert update["relationships"] == {"categories": {"data": []}}
    assert update["id"] == catalog_item_id("v1") and "external_id" not in update["attributes"]


def test_entry_pointers() -> None:
    assert entry_index(ITEMS, "/data/attributes/items/data/7/attributes/title") == (
        7,
        "/attributes/title",
    )
    assert entry_index(ITEMS, "/data/attributes/items/data/0") == (0, "")
    assert entry_index(CATEGORIES, "/data/attributes/items/data/0") is None
    assert entry_index(ITEMS, None) is None
