"""Metric keys of the event surface and their default Klaviyo names.

The names Klaviyo shows live in the SQL table `klaviyo.metric_names` (seeded with these defaults,
renamable there); the listeners read them from it. These constants mirror the keys and defaults
for code and tests that need them.
"""

from __future__ import annotations

from typing import Final

PLACED_ORDER: Final = "placed_order"
ORDERED_PRODUCT: Final = "ordered_product"
FULFILLED_ORDER: Final = "fulfilled_order"
CANCELLED_ORDER: Final = "cancelled_order"
REFUNDED_ORDER: Final = "refunded_order"
STARTED_CHECKOUT: Final = "started_checkout"
ADDED_TO_CART: Final = "added_to_cart"
VIEWED_PRODUCT: Final = "viewed_product"

DEFAULT_METRIC_NAMES: Final[dict[str, str]] = {
    PLACED_ORDER: "Placed Order",
    ORDERED_PRODUCT: "Ordered Product",
    FULFILLED_ORDER: "Fulfilled Order",
    CANCELLED_ORDER: "Cancelled Order",
    REFUNDED_ORDER: "Refunded Order",
    STARTED_CHECKOUT: "Started Checkout",
    ADDED_TO_CART: "Added to Cart",
    VIEWED_PRODUCT: "Viewed Product",
}
