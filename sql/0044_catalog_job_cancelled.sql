-- A bulk job Klaviyo cancelled is recorded as such, apart from one given up at its deadline, so
-- an operator can tell the two apart; both have their rows retried.
ALTER TABLE klaviyo.catalog_bulk_jobs DROP CONSTRAINT catalog_bulk_jobs_status_check;
ALTER TABLE klaviyo.catalog_bulk_jobs ADD CONSTRAINT catalog_bulk_jobs_status_check
    CHECK (status IN ('in_progress', 'complete', 'timed_out', 'cancelled'));
