"""Klaviyo's rate limits: fixed burst (1 s) and steady (60 s) windows per account and operation."""

from __future__ import annotations

import math
import time

from app.sandbox.jsonapi import ApiError

# (burst per second, steady per minute), as Klaviyo publishes them.
TIERS: dict[str, tuple[int, int]] = {
    "XS": (1, 15),
    "S": (3, 60),
    "M": (10, 150),
    "L": (75, 750),
    "XL": (350, 3500),
}

# Each emulated operation and its tier, from the spec's x-klaviyo-ratelimit extension.
OPERATION_TIERS: dict[str, str] = {
    "get_accounts": "XS",
    "get_account": "XS",
    "get_profiles": "L",
    "create_profile": "L",
    "get_profile": "L",
    "update_profile": "L",
    "create_or_update_profile": "L",
    "bulk_import_profiles": "M",
    "get_bulk_import_profiles_jobs": "M",
    "get_bulk_import_profiles_job": "M",
    "get_errors_for_bulk_import_profiles_job": "M",
    "get_profiles_for_bulk_import_profiles_job": "M",
    "get_profile_ids_for_bulk_import_profiles_job": "M",
    "bulk_subscribe_profiles": "L",
    "bulk_unsubscribe_profiles": "L",
    "bulk_suppress_profiles": "L",
    "get_bulk_suppress_profiles_job": "L",
    "get_bulk_suppress_profiles_jobs": "L",
    "bulk_unsuppress_profiles": "L",
    "get_bulk_unsuppress_profiles_job": "L",
    "get_bulk_unsuppress_profiles_jobs": "L",
    "create_event": "XL",
    "get_events": "XL",
    "get_event": "M",
    "bulk_create_events": "M",
    "get_catalog_items": "XL",
    "get_catalog_item": "XL",
    "create_catalog_item": "L",
    "update_catalog_item": "L",
    "delete_catalog_item": "L",
    "get_catalog_variants": "XL",
    "get_catalog_variant": "XL",
    "create_catalog_variant": "L",
    "update_catalog_variant": "L",
    "delete_catalog_variant": "L",
    "get_catalog_categories": "XL",
    "get_catalog_category": "XL",
    "create_catalog_category": "L",
    "update_catalog_category": "L",
    "delete_catalog_category": "L",
    "bulk_create_catalog_items": "L",
    "get_bulk_create_catalog_items_job": "L",
    "bulk_update_catalog_items": "L",
    "get_bulk_update_catalog_items_job": "L",
    "bulk_delete_catalog_items": "L",
    "get_bulk_delete_catalog_items_job": "XL",
    "bulk_create_catalog_variants": "L",
    "get_bulk_create_variants_job": "L",
    "bulk_update_catalog_variants": "L",
    "get_bulk_update_variants_job": "L",
    "bulk_delete_catalog_variants": "L",
    "get_bulk_delete_variants_job": "XL",
    "bulk_create_catalog_categories": "L",
    "get_bulk_create_categories_job": "XL",
    "bulk_update_catalog_categories": "L",
    "get_bulk_update_categories_job": "XL",
    "bulk_delete_catalog_categories": "L",
    "get_bulk_delete_categories_job": "XL",
    "get_category_ids_for_catalog_item": "XL",
    "add_categories_to_catalog_item": "L",
    "update_categories_for_catalog_item": "L",
    "remove_categories_from_catalog_item": "L",
    "get_item_ids_for_catalog_category": "XL",
    "add_items_to_catalog_category": "L",
    "update_items_for_catalog_category": "L",
    "remove_items_from_catalog_category": "L",
    "get_coupons": "L",
    "get_coupon": "L",
    "create_coupon": "S",
    "update_coupon": "S",
    "delete_coupon": "S",
    "get_coupon_codes": "XL",
    "get_coupon_code": "XL",
    "create_coupon_code": "XL",
    "update_coupon_code": "XL",
    "delete_coupon_code": "XL",
    "bulk_create_coupon_codes": "L",
    "get_bulk_create_coupon_codes_job": "L",
    "get_webhooks": "XS",
    "create_webhook": "XS",
    "get_webhook": "XS",
    "update_webhook": "XS",
    "delete_webhook": "XS",
    "get_webhook_topics": "XS",
    "get_webhook_topic": "XS",
}


class RateLimiter:
    """Counts requests in the current burst and steady window of each (account, operation)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._counters: dict[tuple[str, str], list[int]] = {}
        # A frozen clock lets tests walk through windows deterministically.
        self.frozen_at: float | None = None
        self.offset_s = 0.0

    def reset(self, mode: str) -> None:
        self.mode = mode
        self._counters.clear()
        self.frozen_at = None
        self.offset_s = 0.0

    def now(self) -> float:
        base = self.frozen_at if self.frozen_at is not None else time.time()
        return base + self.offset_s

    def check(self, account_id: str, operation: str) -> dict[str, str]:
        """Admit one request or raise 429; returns the RateLimit-* headers for a success."""
        if self.mode == "off":
            return {}
        burst_limit, steady_limit = TIERS[OPERATION_TIERS.get(operation, "L")]
        now = self.now()
        second, minute = int(now), int(now // 60)
        counter = self._counters.setdefault((account_id, operation), [second, 0, minute, 0])
        if counter[0] != second:
            counter[0], counter[1] = second, 0
        if counter[2] != minute:
            counter[2], counter[3] = minute, 0

        if counter[3] >= steady_limit:
            raise throttled(math.ceil((minute + 1) * 60 - now))
        if counter[1] >= burst_limit:
            raise throttled(math.ceil(second + 1 - now))

        counter[1] += 1
        counter[3] += 1
        # Like Klaviyo, the headers describe the steady window.
        return {
            "RateLimit-Limit": f"{steady_limit}, {burst_limit};w=1, {steady_limit};w=60",
            "RateLimit-Remaining": str(steady_limit - counter[3]),
            "RateLimit-Reset": str(math.ceil((minute + 1) * 60 - now)),
        }


def throttled(retry_after_s: int) -> ApiError:
    retry_after_s = max(1, retry_after_s)
    return ApiError(
        429,
        "throttled",
        f"Request was throttled. Expected available in {retry_after_s} second"
        f"{'s' if retry_after_s != 1 else ''}.",
        headers={"Retry-After": str(retry_after_s)},
    )
