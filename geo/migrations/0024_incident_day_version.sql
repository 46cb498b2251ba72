-- A per-day change log of incidents, so that the big screen's caches of past days survive
-- writes to other days (issue #8 规模).
--
-- Why: geo/dashboard.py and layers/incident_heat.py cache whole-day counts; keyed by the
-- table-wide data version, every write (one every few seconds at city scale, mostly new
-- incidents of today and status changes of recent ones) threw away a year of counts and the
-- next refresh re-read ~2 million aggregate rows. With one version per local day, a cache
-- re-reads only the days a write touched.
--
-- `version` comes from a sequence, so a value is never given twice (not even after a
-- rollback or a TRUNCATE ... RESTART IDENTITY: the sequence belongs to no column) and a
-- cache entry tagged with a version can never be confused with other contents of that day.
-- A day without a row has not changed since this migration (version 0 to readers). The row
-- for day '-infinity' is the generation: bumped by TRUNCATE of incident (or of this log),
-- after which every cached day is void.
--
-- A day is bumped when a statement inserts or deletes an incident reported on it, or
-- updates one in a column the screen reads (reported_at, grid, community, category,
-- status, risk tier, handling level, deadline, closed_at): both the old and the new day.
-- One nextval and one upsert per statement, keys in day order (no deadlock between
-- writers). The log holds dates and counters only, the same for every unit: reference data
-- readable by the web roles, like data_version.
CREATE SEQUENCE incident_day_version_seq;

CREATE TABLE incident_day_version (
    day      date   PRIMARY KEY,      -- local (Asia/Shanghai) day of reported_at; '-infinity' = generation
    version  bigint NOT NULL
);
GRANT SELECT ON incident_day_version TO quanyu_web;

CREATE FUNCTION incident_day_version_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    days date[];
    v bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        days := ARRAY['-infinity'::date];
    ELSIF TG_OP = 'INSERT' THEN
        days := ARRAY(SELECT DISTINCT incident_day(reported_at) FROM new_rows ORDER BY 1);
    ELSIF TG_OP = 'DELETE' THEN
        days := ARRAY(SELECT DISTINCT incident_day(reported_at) FROM old_rows ORDER BY 1);
    ELSE
        days := ARRAY(SELECT DISTINCT d FROM old_rows o JOIN new_rows nw ON nw.id = o.id
                       CROSS JOIN LATERAL (VALUES (incident_day(o.reported_at)), (incident_day(nw.reported_at))) x (d)
                      WHERE (o.reported_at, o.grid_code, o.admin_code, o.minor_code, o.status, o.risk_tier,
                             o.level_handled, o.deadline, o.closed_at)
                            IS DISTINCT FROM
                            (nw.reported_at, nw.grid_code, nw.admin_code, nw.minor_code, nw.status, nw.risk_tier,
                             nw.level_handled, nw.deadline, nw.closed_at)
                      ORDER BY 1);
    END IF;
    IF cardinality(days) > 0 THEN
        v := nextval('incident_day_version_seq');
        INSERT INTO incident_day_version (day, version)
        SELECT d, v FROM unnest(days) d ORDER BY 1
        ON CONFLICT (day) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    RETURN NULL;
END $$;

-- Names sort after incident_daily_* and before incident_grid_risk_* (AFTER triggers fire in
-- name order); the order does not matter to the log, which only tags days.
CREATE TRIGGER incident_day_version_insert AFTER INSERT ON incident REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_day_version_statement();
CREATE TRIGGER incident_day_version_update AFTER UPDATE ON incident REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_day_version_statement();
CREATE TRIGGER incident_day_version_delete AFTER DELETE ON incident REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_day_version_statement();
CREATE TRIGGER incident_day_version_truncate AFTER TRUNCATE ON incident
    FOR EACH STATEMENT EXECUTE FUNCTION incident_day_version_statement();
-- Emptying the log itself must not bring back versions a cache has seen: new generation.
CREATE TRIGGER incident_day_version_self_truncate AFTER TRUNCATE ON incident_day_version
    FOR EACH STATEMENT EXECUTE FUNCTION incident_day_version_statement();
