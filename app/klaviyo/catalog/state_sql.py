"""Named statements over the catalog, category and coupon state rows and the bulk-job ledger.

Claiming, retries and releases follow app/klaviyo/drain/claims.py (same claimable condition,
same retry shape, same lease-checked settlement). A row in a bulk job stays leased by the job
(token `job:<ledger id>`) until the poller settles it, so only the poller can settle it and a
retaken row is never clobbered by a late answer.
"""

from __future__ import annotations

from app.klaviyo.drain.claims import _CLAIMABLE, _RETRY_SET  # noqa: PLC2701

CLAIM_PENDING_VARIANTS = f"""
    WITH batch AS (
        SELECT id FROM klaviyo.catalog_state
        WHERE {_CLAIMABLE}
        ORDER BY next_attempt_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE klaviyo.catalog_state s
    SET leased_by = %(token)s, lease_expires_at = now() + make_interval(secs => %(lease_s)s)
    FROM batch
    WHERE s.id = batch.id
    RETURNING s.id, s.variant_id AS key, s.klaviyo_catalog_item_id AS klaviyo_id,
              s.change_seq, s.attempts
"""

# A category in a bulk job in flight stays 'pending' (bulk_job_id set): it is the poller's
# until the job is settled, even once the job's hold has run out.
CLAIM_PENDING_CATEGORIES = f"""
    WITH batch AS (
        SELECT id FROM klaviyo.category_state
        WHERE {_CLAIMABLE} AND bulk_job_id IS NULL
        ORDER BY next_attempt_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE klaviyo.category_state s
    SET leased_by = %(token)s, lease_expires_at = now() + make_interval(secs => %(lease_s)s)
    FROM batch
    WHERE s.id = batch.id
    RETURNING s.id, s.category_id AS key, s.klaviyo_category_id AS klaviyo_id,
              s.change_seq, s.attempts
"""

CLAIM_PENDING_COUPONS = f"""
    WITH batch AS (
        SELECT id FROM klaviyo.coupon_state
        WHERE {_CLAIMABLE}
        ORDER BY next_attempt_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE klaviyo.coupon_state s
    SET leased_by = %(token)s, lease_expires_at = now() + make_interval(secs => %(lease_s)s)
    FROM batch
    WHERE s.id = batch.id
    RETURNING s.id, s.discount_id, s.klaviyo_coupon_id, s.klaviyo_coupon_code_id,
              s.last_pushed_code, s.pushed_description, s.change_seq, s.attempts, s.status
"""

# Rows handed to a bulk job: the job's token holds them until the poller settles them.
SUBMIT_VARIANTS = """
    UPDATE klaviyo.catalog_state s
    SET status = 'submitted', operation = %(operation)s, bulk_job_id = %(job_id)s,
        submitted_seq = sub.change_seq, leased_by = %(job_token)s,
        pushed_category_ids = string_to_array(sub.categories, E'\\x1f'),
        last_error = sub.note, lease_expires_at = %(hold_until)s, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(seqs)s::bigint[], %(categories)s::text[],
                %(notes)s::text[]) AS sub(id, change_seq, categories, note)
    WHERE s.id = sub.id AND s.leased_by = %(token)s
"""

SUBMIT_CATEGORIES = """
    UPDATE klaviyo.category_state s
    SET operation = %(operation)s, bulk_job_id = %(job_id)s,
        submitted_seq = sub.change_seq, leased_by = %(job_token)s, last_error = sub.note,
        lease_expires_at = %(hold_until)s, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(seqs)s::bigint[], %(notes)s::text[])
         AS sub(id, change_seq, note)
    WHERE s.id = sub.id AND s.leased_by = %(token)s
"""

# Confirmed by Klaviyo. Final only if no touch came in since the claim; else pending again.
# `klaviyo_ids` null means Klaviyo no longer holds the entity (a delete). lastError keeps the
# note written at submission (a field left out) unless the outcome brings its own.
_CONFIRM_SET = """
    SET status = CASE WHEN s.change_seq = s.submitted_seq THEN c.final_status
                      ELSE 'pending' END,
        pushed_seq = coalesce(s.submitted_seq, s.pushed_seq),
        {klaviyo_id} = c.klaviyo_id,
        last_error = coalesce(c.note, s.last_error),
        attempts = CASE WHEN s.change_seq = s.submitted_seq THEN s.attempts + 1 ELSE 0 END,
        last_pushed_at = now(), next_attempt_at = now(),
        bulk_job_id = NULL, operation = NULL,
        leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(statuses)s::text[], %(klaviyo_ids)s::text[],
                %(notes)s::text[]) AS c(id, final_status, klaviyo_id, note)
    WHERE s.id = c.id AND s.leased_by = %(token)s
"""

CONFIRM_VARIANTS = "UPDATE klaviyo.catalog_state s" + _CONFIRM_SET.format(
    klaviyo_id="klaviyo_catalog_item_id"
)

CONFIRM_CATEGORIES = "UPDATE klaviyo.category_state s" + _CONFIRM_SET.format(
    klaviyo_id="klaviyo_category_id"
)

# Klaviyo answered that the entity exists (create) or does not (update): record what Klaviyo
# holds and queue the row again, due now, for the other operation. The attempt counts, so two
# contradicting answers cannot loop past max_attempts.
_SWITCH_SET = """
    SET status = CASE WHEN s.attempts + 1 >= %(max_attempts)s THEN 'failed' ELSE 'pending' END,
        {klaviyo_id} = c.klaviyo_id,
        last_error = c.note,
        attempts = s.attempts + 1,
        next_attempt_at = now(),
        bulk_job_id = NULL, operation = NULL,
        leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(klaviyo_ids)s::text[], %(notes)s::text[])
         AS c(id, klaviyo_id, note)
    WHERE s.id = c.id AND s.leased_by = %(token)s
"""

SWITCH_VARIANTS = "UPDATE klaviyo.catalog_state s" + _SWITCH_SET.format(
    klaviyo_id="klaviyo_catalog_item_id"
)
SWITCH_CATEGORIES = "UPDATE klaviyo.category_state s" + _SWITCH_SET.format(
    klaviyo_id="klaviyo_category_id"
)

# Settled without a push: skipped (no store row, not representable) or deleted (never reached
# Klaviyo). Same change_seq rule as a confirmation.
_SKIP_SET = """
    SET status = CASE WHEN s.change_seq = d.change_seq THEN d.final_status ELSE 'pending' END,
        pushed_seq = d.change_seq, last_error = d.reason, attempts = 0,
        bulk_job_id = NULL, operation = NULL,
        leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(seqs)s::bigint[], %(statuses)s::text[], %(reasons)s::text[])
         AS d(id, change_seq, final_status, reason)
    WHERE s.id = d.id AND s.leased_by = %(token)s
"""

SKIP_VARIANTS = "UPDATE klaviyo.catalog_state s" + _SKIP_SET
SKIP_CATEGORIES = "UPDATE klaviyo.category_state s" + _SKIP_SET
SKIP_COUPONS = "UPDATE klaviyo.coupon_state s" + _SKIP_SET.replace(
    "bulk_job_id = NULL, operation = NULL,", ""
)

# claims' retry shape, plus the bulk job columns a retried catalog or category row drops.
_BULK_RETRY_SET = """
    SET status = CASE WHEN r.final THEN 'failed' ELSE 'pending' END,
        attempts = t.attempts + CASE WHEN r.counts THEN 1 ELSE 0 END,
        next_attempt_at = r.next_attempt_at,
        last_error = r.error,
        bulk_job_id = NULL, operation = NULL,
        leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(%(ids)s::uuid[], %(next)s::timestamptz[], %(errors)s::text[],
                %(final)s::bool[], %(counts)s::bool[])
         AS r(id, next_attempt_at, error, final, counts)
    WHERE t.id = r.id AND t.leased_by = %(token)s
"""
RETRY_VARIANTS = f"UPDATE klaviyo.catalog_state t {_BULK_RETRY_SET}"
RETRY_CATEGORIES = f"UPDATE klaviyo.category_state t {_BULK_RETRY_SET}"
RETRY_COUPONS = f"""
    UPDATE klaviyo.coupon_state t {_RETRY_SET}
    WHERE t.id = r.id AND t.leased_by = %(token)s
"""

RELEASE_VARIANTS = """
    UPDATE klaviyo.catalog_state SET leased_by = NULL, lease_expires_at = NULL
    WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
"""
RELEASE_COUPONS = """
    UPDATE klaviyo.coupon_state SET leased_by = NULL, lease_expires_at = NULL
    WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
"""
RELEASE_CATEGORIES = """
    UPDATE klaviyo.category_state SET leased_by = NULL, lease_expires_at = NULL
    WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
"""

CONFIRM_COUPON = """
    UPDATE klaviyo.coupon_state s
    SET status = CASE WHEN s.change_seq = %(seq)s THEN %(status)s ELSE 'pending' END,
        pushed_seq = %(seq)s,
        klaviyo_coupon_id = %(coupon_id)s, klaviyo_coupon_code_id = %(code_id)s,
        last_pushed_code = %(code)s, pushed_description = %(description)s,
        last_error = %(note)s,
        attempts = CASE WHEN s.change_seq = %(seq)s THEN s.attempts + 1 ELSE 0 END,
        last_pushed_at = now(), next_attempt_at = now(),
        leased_by = NULL, lease_expires_at = NULL, updated_at = now()
    WHERE s.id = %(id)s AND s.leased_by = %(token)s
"""

# Progress inside one coupon push (old code deleted, coupon created) is kept even if a later
# step fails, so the retry does not repeat it.
RECORD_COUPON_PROGRESS = """
    UPDATE klaviyo.coupon_state
    SET klaviyo_coupon_id = %(coupon_id)s, klaviyo_coupon_code_id = %(code_id)s,
        last_pushed_code = %(code)s, pushed_description = %(description)s, updated_at = now()
    WHERE id = %(id)s AND leased_by = %(token)s
"""

RECORD_JOB = """
    INSERT INTO klaviyo.catalog_bulk_jobs
        (id, klaviyo_job_id, resource, operation, row_ids, deadline, next_poll_at)
    VALUES (%(id)s, %(klaviyo_job_id)s, %(resource)s, %(operation)s, %(row_ids)s,
            now() + make_interval(secs => %(deadline_s)s),
            now() + make_interval(secs => %(poll_s)s))
"""

JOBS_IN_PROGRESS = "SELECT count(*) FROM klaviyo.catalog_bulk_jobs WHERE status = 'in_progress'"

CLAIM_DUE_JOBS = """
    WITH due AS (
        SELECT id FROM klaviyo.catalog_bulk_jobs
        WHERE status = 'in_progress' AND next_poll_at <= now()
          AND (lease_expires_at IS NULL OR lease_expires_at < now())
        ORDER BY next_poll_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    )
    UPDATE klaviyo.catalog_bulk_jobs j
    SET leased_by = %(token)s, lease_expires_at = now() + make_interval(secs => %(lease_s)s),
        polls = j.polls + 1
    FROM due
    WHERE j.id = due.id
    RETURNING j.id, j.klaviyo_job_id, j.resource, j.operation, j.row_ids,
              j.deadline <= now() AS overdue
"""

POLL_LATER = """
    UPDATE klaviyo.catalog_bulk_jobs
    SET next_poll_at = now() + make_interval(secs => %(poll_s)s),
        leased_by = NULL, lease_expires_at = NULL, last_error = %(error)s
    WHERE id = %(id)s AND leased_by = %(token)s
"""

SETTLE_JOB = """
    UPDATE klaviyo.catalog_bulk_jobs
    SET status = %(status)s, settled_at = now(), failed_count = %(failed_count)s,
        last_error = %(error)s, leased_by = NULL, lease_expires_at = NULL
    WHERE id = %(id)s AND leased_by = %(token)s
"""

# The rows of a job with what the poller needs to judge them.
JOB_ROWS = {
    "item": """
        SELECT id, variant_id AS key, klaviyo_catalog_item_id AS klaviyo_id, attempts,
               pushed_category_ids
        FROM klaviyo.catalog_state WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
    """,
    "category": """
        SELECT id, category_id AS key, klaviyo_category_id AS klaviyo_id, attempts
        FROM klaviyo.category_state WHERE id = ANY(%(ids)s) AND leased_by = %(token)s
    """,
}

PRUNE_SETTLED_JOBS = """
    DELETE FROM klaviyo.catalog_bulk_jobs
    WHERE status <> 'in_progress' AND settled_at < now() - make_interval(days => %(days)s)
"""

# A category Klaviyo turned out not to hold (an item's link to it failed): forget its id and
# queue it, so it is created again and then touches its items.
FORGET_CATEGORIES = """
    UPDATE klaviyo.category_state
    SET klaviyo_category_id = NULL,
        status = CASE WHEN status = 'deleted' THEN status ELSE 'pending' END,
        change_seq = change_seq + 1, attempts = 0, next_attempt_at = now(), updated_at = now()
    WHERE category_id = ANY(%(ids)s)
"""
