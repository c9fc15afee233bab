"""The sandbox keeps Klaviyo's side in memory, so every main job starts it empty; the store's
state rows still say what an earlier run pushed. Before the bootstrap, that memory is dropped so
everything is pushed again as to a new account, instead of updating profiles, items and coupons
the new sandbox has never seen (which Klaviyo answers with 404s)."""

from __future__ import annotations

import psycopg

FORGET_PUSHED_STATE = (
    """
    UPDATE klaviyo.profile_state
    SET klaviyo_profile_id = NULL, pushed_consent = NULL, updated_at = now()
    WHERE klaviyo_profile_id IS NOT NULL OR pushed_consent IS NOT NULL
    """,
    """
    UPDATE klaviyo.catalog_state
    SET klaviyo_catalog_item_id = NULL, pushed_category_ids = '{}', updated_at = now()
    WHERE klaviyo_catalog_item_id IS NOT NULL OR pushed_category_ids <> '{}'
    """,
    """
    UPDATE klaviyo.category_state
    SET klaviyo_category_id = NULL, pushed_name = NULL, updated_at = now()
    WHERE klaviyo_category_id IS NOT NULL
    """,
    # Coupons have no bootstrap: a synced one is made pending here.
    """
    UPDATE klaviyo.coupon_state
    SET klaviyo_coupon_id = NULL, klaviyo_coupon_code_id = NULL, last_pushed_code = NULL,
        pushed_description = NULL, change_seq = change_seq + 1, attempts = 0,
        status = CASE WHEN status = 'synced' THEN 'pending' ELSE status END,
        next_attempt_at = now(), updated_at = now()
    WHERE klaviyo_coupon_id IS NOT NULL
    """,
    # Events went to the sandbox that is gone: they go again, with the same unique_ids.
    """
    UPDATE klaviyo.event_outbox
    SET status = 'pending', attempts = 0, processed_at = NULL, last_error = NULL,
        next_attempt_at = now(), updated_at = now()
    WHERE status = 'sent'
    """,
)


def forget_what_the_last_sandbox_held(database_url: str) -> int:
    """Drop the record of what an earlier sandbox held; answer how many rows it touched."""
    touched = 0
    with psycopg.connect(database_url) as conn, conn.transaction():
        for statement in FORGET_PUSHED_STATE:
            touched += conn.execute(statement).rowcount
    return touched
