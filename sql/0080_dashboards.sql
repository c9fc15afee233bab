-- Dashboard views over the outbox tables, for psql, Grafana or Metabase (read-only, cheap:
-- each reads the drain's own partial indexes or one pass over a surface's table).
--
-- Vocabulary per surface: `waiting` rows still owe Klaviyo a push (pending, or submitted in a
-- bulk job not yet settled), `done` rows are in Klaviyo (synced / sent), `failed` need an
-- operator, `other` are settled without a push (skipped, dropped, deleted).

-- Every surface's rows in one shape: the base of the views below.
CREATE VIEW klaviyo.dashboard_rows AS
SELECT 'profiles'::text AS surface, id::text AS row_id, status, attempts, last_error,
       next_attempt_at, updated_at, last_synced_at AS done_at,
       CASE WHEN status = 'pending' THEN updated_at END AS pending_since
FROM klaviyo.profile_state
UNION ALL
SELECT 'events', id::text, status, attempts, last_error, next_attempt_at, updated_at,
       processed_at, CASE WHEN status = 'pending' THEN enqueued_at END
FROM klaviyo.event_outbox
UNION ALL
SELECT 'catalog', variant_id, status, attempts, last_error, next_attempt_at, updated_at,
       last_pushed_at, CASE WHEN status IN ('pending', 'submitted') THEN updated_at END
FROM klaviyo.catalog_state
UNION ALL
SELECT 'categories', category_id, status, attempts, last_error, next_attempt_at, updated_at,
       last_pushed_at, CASE WHEN status = 'pending' THEN updated_at END
FROM klaviyo.category_state
UNION ALL
SELECT 'coupons', discount_id, status, attempts, last_error, next_attempt_at, updated_at,
       last_pushed_at, CASE WHEN status = 'pending' THEN updated_at END
FROM klaviyo.coupon_state;

-- Status counts per surface (the main job's progress display reads this one).
CREATE VIEW klaviyo.dashboard_surface_status AS
SELECT surface,
       count(*) FILTER (WHERE status IN ('pending', 'submitted')) AS waiting,
       count(*) FILTER (WHERE status IN ('synced', 'sent')) AS done,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status IN ('skipped', 'dropped', 'deleted')) AS other,
       count(*) AS total
FROM klaviyo.dashboard_rows
GROUP BY surface;

-- Backlog per surface: how much waits, how much of it is only waiting for a retry, how old the
-- oldest waiting row is.
CREATE VIEW klaviyo.dashboard_backlog AS
SELECT surface,
       count(*) AS waiting,
       count(*) FILTER (WHERE next_attempt_at > now()) AS backing_off,
       min(pending_since) AS oldest_pending_since,
       extract(epoch FROM now() - min(pending_since))::bigint AS oldest_pending_age_s
FROM klaviyo.dashboard_rows
WHERE status IN ('pending', 'submitted')
GROUP BY surface;

-- Failed rows grouped by error, so one Klaviyo complaint shows as one line with its count.
CREATE VIEW klaviyo.dashboard_failures AS
SELECT surface,
       coalesce(left(last_error, 200), '(no error recorded)') AS error,
       count(*) AS rows,
       max(updated_at) AS last_seen_at
FROM klaviyo.dashboard_rows
WHERE status = 'failed'
GROUP BY surface, coalesce(left(last_error, 200), '(no error recorded)');

-- Rows that reached Klaviyo per minute over the last day.
CREATE VIEW klaviyo.dashboard_throughput AS
SELECT surface, date_trunc('minute', done_at) AS minute, count(*) AS rows_done
FROM klaviyo.dashboard_rows
WHERE done_at > now() - interval '1 day' AND status IN ('synced', 'sent')
GROUP BY surface, date_trunc('minute', done_at);

-- Catalog bulk jobs Klaviyo is still working on.
CREATE VIEW klaviyo.dashboard_bulk_jobs_in_flight AS
SELECT *, extract(epoch FROM now() - submitted_at)::bigint AS age_s
FROM klaviyo.catalog_bulk_jobs
WHERE status = 'in_progress';
