"""Klaviyo ids of catalog items, categories and coupons: the one place they are built."""

from __future__ import annotations

import hashlib
import re

INTEGRATION_TYPE = "$custom"
CATALOG_TYPE = "$default"
_SEPARATOR = ":::"
# Klaviyo takes coupon external ids of letters, digits and underscores only, 1-64 long.
_COUPON_UNSAFE = re.compile(r"[^A-Za-z0-9]")
_COUPON_READABLE_LEN = 32


def catalog_item_id(variant_id: str) -> str:
    """`$custom:::$default:::<variant id>`: the item's id in Klaviyo (external_id = variant)."""
    return _catalog_id(variant_id)


def catalog_category_id(category_id: str) -> str:
    return _catalog_id(category_id)


def external_id_of(catalog_id: str) -> str:
    """The external id inside a compound catalog id."""
    return catalog_id.split(_SEPARATOR, 2)[-1]


def coupon_external_id(discount_id: str) -> str:
    """A stable coupon external id for a discount, within Klaviyo's allowed characters.

    The readable part keeps the discount id's letters and digits; the hash of the whole id
    keeps two ids that differ only in punctuation ("a-b", "ab") apart.
    """
    readable = _COUPON_UNSAFE.sub("", discount_id)[:_COUPON_READABLE_LEN] or "x"
    digest = hashlib.sha256(discount_id.encode()).hexdigest()[:12]
    return f"discount_{readable}_{digest}"


def coupon_code_id(coupon_id: str, code: str) -> str:
    """Klaviyo's id of a coupon code: `<coupon id>-<unique code>`."""
    return f"{coupon_id}-{code}"


def _catalog_id(external_id: str) -> str:
    if not external_id:
        raise ValueError("a catalog external id must not be empty")
    return _SEPARATOR.join((INTEGRATION_TYPE, CATALOG_TYPE, external_id))
