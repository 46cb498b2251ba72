-- What a month of incidents that arrives or leaves as a whole partition does to the rest of
-- the schema (issue #17 item 3): a history load ATTACHes fresh month tables and the archive
-- DETACHes and re-ATTACHes old ones, and ATTACH/DETACH fire no trigger. These functions do,
-- set-based and once per month, what the statement triggers of `incident` do for rows
-- inserted (or deleted) one statement at a time: the daily aggregate (incident_daily_statement,
-- 0018), the day versions (incident_day_version_statement, 0024), the data version and its
-- NOTIFY (bump_data_version), the unknown-factor risk context (risk_context_statement, 0040)
-- and the alarms (alert_incident_statement, 0050). tests/test_history_load.py holds the
-- results equal to a row-by-row import of the same file, so the two stay in step.

-- Add (sign 1) or remove (sign -1) the daily aggregate of the rows of `month_table`.
CREATE FUNCTION incident_daily_add(month_table regclass, sign integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    EXECUTE format($q$
        INSERT INTO incident_daily AS d (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled, n, m1, m2, m3)
        SELECT incident_day(r.reported_at), COALESCE(r.grid_code, ''), r.admin_code, r.minor_code,
               incident_bucket(r.status), COALESCE(r.risk_tier, ''), COALESCE(r.level_handled, ''),
               %2$s * count(*), %2$s * sum(f.u), %2$s * sum(f.u * f.u), %2$s * sum(f.u * f.u * f.u)
          FROM %1$s r CROSS JOIN LATERAL (SELECT incident_day_fraction(r.reported_at) AS u) f
         GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled) DO UPDATE
           SET n = d.n + EXCLUDED.n, m1 = d.m1 + EXCLUDED.m1, m2 = d.m2 + EXCLUDED.m2, m3 = d.m3 + EXCLUDED.m3
    $q$, month_table, sign);
    IF sign < 0 THEN
        EXECUTE format('DELETE FROM incident_daily WHERE n = 0 AND day IN (SELECT DISTINCT incident_day(reported_at) FROM %s)',
                       month_table);
    END IF;
END $$;

-- The day versions and the data version of `incident` after rows of `month_table` came or went:
-- every cache keyed on them (the screens, the tiles) recomputes those days.
CREATE FUNCTION incident_month_versions(month_table regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    days date[];
    v bigint;
BEGIN
    EXECUTE format('SELECT ARRAY(SELECT DISTINCT incident_day(reported_at) FROM %s ORDER BY 1)', month_table) INTO days;
    IF cardinality(days) > 0 THEN
        v := nextval('incident_day_version_seq');
        INSERT INTO incident_day_version (day, version)
        SELECT d, v FROM unnest(days) d ORDER BY 1
        ON CONFLICT (day) DO UPDATE SET version = EXCLUDED.version;
    END IF;
    INSERT INTO data_version AS d (name) VALUES ('incident')
    ON CONFLICT (name) DO UPDATE SET version = d.version + 1, changed_at = now();
END $$;

-- After rows of `loaded` (already attached, so `incident` holds them) were inserted: the
-- INSERT branches of risk_context_statement and alert_incident_statement on them.
CREATE FUNCTION incident_loaded_context(loaded regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    days integer := (SELECT (context_params).days FROM risk_config WHERE id = 1);
    cfg jsonb := (SELECT config FROM alert_config WHERE id = 1);
    ids bigint[]; grids text[]; phones text[]; t0 timestamptz; t1 timestamptz;
BEGIN
    IF days IS NOT NULL AND current_setting('quanyu.risk_context_busy', true) IS DISTINCT FROM 'on' THEN
        EXECUTE format($q$
            SELECT array_agg(n.id) FILTER (WHERE n.people_involved IS NULL OR n.duration_days IS NULL
                                              OR n.conflict_intensity IS NULL OR n.behaviour_risk IS NULL),
                   array_agg(DISTINCT n.grid_code), array_agg(DISTINCT n.reporter_phone), min(n.reported_at), max(n.reported_at)
              FROM %s n $q$, loaded) INTO ids, grids, phones, t0, t1;
        IF t0 IS NOT NULL THEN
            SELECT array_agg(u.id) INTO ids FROM (
                SELECT unnest(ids) AS id
                UNION
                SELECT i.id FROM incident i
                 WHERE i.reported_at > t0 AND i.reported_at <= t1 + make_interval(days => days)
                   AND (i.grid_code IN (SELECT unnest(grids)) OR i.reporter_phone IN (SELECT unnest(phones)))
                   AND (i.people_involved IS NULL OR i.duration_days IS NULL OR i.conflict_intensity IS NULL OR i.behaviour_risk IS NULL)
            ) u;
            IF ids IS NOT NULL THEN
                PERFORM risk_reassess_unknown(ids);
            END IF;
        END IF;
    END IF;
    IF cfg IS NOT NULL AND current_setting('quanyu.alerts_defer', true) IS DISTINCT FROM 'on' THEN
        EXECUTE format($q$
            SELECT ARRAY(SELECT id FROM %s
                          WHERE reported_at > now() - make_interval(hours => $1)
                            AND status NOT IN ('closed', 'followed_up', 'cancelled')) $q$, loaded)
            INTO ids USING (cfg->'evaluation'->>'max_age_hours')::integer;
        IF cardinality(ids) > 0 THEN
            PERFORM alert_evaluate_incidents(ids);
        END IF;
    END IF;
END $$;

REVOKE ALL ON FUNCTION incident_daily_add(regclass, integer), incident_month_versions(regclass),
    incident_loaded_context(regclass), incident_partitions_ensure(integer) FROM PUBLIC;

-- The unknown-factor context trigger fired before the daily aggregate's (triggers of one
-- event fire in name order: incident_context_* < incident_daily_*). Its re-tiering UPDATE then
-- moved rows between tiers in incident_daily before the INSERT had added them: a tier's
-- count went to 0 with its time-of-day moments not 0, the cleanup deleted that row, and the
-- INSERT's trigger then added the rows under their first tier. Counts came out right, the
-- moments (m1..m3: the time-of-day profile) did not, and tests/test_history_load.py found
-- the row-by-row import disagreeing with the history load (which aggregates the final rows).
-- Renamed so that it fires after the daily aggregate, the versions and the grid risk.
ALTER TRIGGER incident_context_risk_insert ON incident RENAME TO incident_risk_context_insert;
ALTER TRIGGER incident_context_risk_update ON incident RENAME TO incident_risk_context_update;
ALTER TRIGGER incident_context_risk_delete ON incident RENAME TO incident_risk_context_delete;
