-- An exact, cheap total for the admin profile list: COUNT(*) over a million state rows is too
-- slow for a page request, so inserts and deletes keep a sharded counter.
--
-- Shards (by backend pid) keep concurrent first touches of different customers from queueing
-- on one counter row; the list sums at most 16 rows.

CREATE TABLE klaviyo.row_counts (
    table_name text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (table_name, shard)
);

CREATE FUNCTION klaviyo.count_rows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM klaviyo.row_counts WHERE table_name = TG_TABLE_NAME;
        RETURN NULL;
    END IF;
    INSERT INTO klaviyo.row_counts AS r (table_name, shard, n)
    SELECT TG_TABLE_NAME, pg_backend_pid() % 16,
           CASE WHEN TG_OP = 'INSERT' THEN count(*) ELSE -count(*) END
    FROM changed
    HAVING count(*) > 0
    ON CONFLICT (table_name, shard) DO UPDATE SET n = r.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER profile_state_count_inserted
    AFTER INSERT ON klaviyo.profile_state
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.count_rows_changed();

CREATE TRIGGER profile_state_count_deleted
    AFTER DELETE ON klaviyo.profile_state
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.count_rows_changed();

CREATE TRIGGER profile_state_count_truncated
    AFTER TRUNCATE ON klaviyo.profile_state
    FOR EACH STATEMENT EXECUTE FUNCTION klaviyo.count_rows_changed();

INSERT INTO klaviyo.row_counts (table_name, shard, n)
SELECT 'profile_state', 0, count(*) FROM klaviyo.profile_state;
