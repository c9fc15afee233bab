-- Failed rows grouped by what Klaviyo said, not by row: last_error begins with the row it is
-- about ("events row <id>: Klaviyo 400 ..."), which made every failed row a group of its own.
CREATE OR REPLACE VIEW klaviyo.dashboard_failures AS
SELECT surface,
       coalesce(left(regexp_replace(last_error, '^\S+ row \S+: ', ''), 200),
                '(no error recorded)') AS error,
       count(*) AS rows,
       max(updated_at) AS last_seen_at
FROM klaviyo.dashboard_rows
WHERE status = 'failed'
GROUP BY 1, 2;
