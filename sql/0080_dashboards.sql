-- Dashboard views over the outbox tables, for psql, Grafana or Metabase.
--
-- Vocabulary per surface: `waiting` rows still owe Klaviyo a push (pending, or submitted in a
-- bulk job not yet finished), `done` rows are in Klaviyo (synced / sent), `failed` need an
-- operator, `other` are settled without a push (skipped, dropped, deleted).

CREATE VIEW klaviyo.dashboard_surface_status AS
SELECT 'profiles'::text AS surface,
       count(*) FILTER (WHERE status = 'pending') AS waiting,
       count(*) FILTER (WHERE status = 'synced') AS done,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'skipped') AS other,
       count(*) AS total
FROM klaviyo.profile_state
UNION ALL
SELECT 'events',
       count(*) FILTER (WHERE status = 'pending'),
       count(*) FILTER (WHERE status = 'sent'),
       count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'dropped'),
       count(*)
FROM klaviyo.event_outbox;
