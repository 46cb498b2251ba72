-- Making a month never waits behind readers (0093). ATTACH PARTITION takes an exclusive lock
-- on the default partition, which any open transaction that read `incident` holds a share
-- of: an import that made its months waited for such a session (an idle transaction, a long
-- report) for as long as it stayed, and every query of `incident` queued behind its lock
-- request meanwhile. Each month now tries for two seconds (lock_timeout, in a subtransaction)
-- and, when the lock is not to be had, is left for later: its rows go to the default
-- partition and the next maintenance run (every migrate, `python -m geo archive ensure`)
-- moves them into their month.
CREATE OR REPLACE FUNCTION incident_partitions_make(months timestamptz[]) RETURNS text[]
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    m timestamptz;
    made text[] := '{}';
    name text;
    cols text := (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                   WHERE attrelid = 'incident'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated <> 's');
    old_timeout text := current_setting('lock_timeout');
BEGIN
    FOR m IN SELECT DISTINCT incident_month(x) FROM unnest(months) x WHERE x IS NOT NULL ORDER BY 1 LOOP
        name := incident_partition_name(m);
        -- a month detached to the archive keeps its table (and name): its rows wait in the default
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
        BEGIN
            PERFORM set_config('lock_timeout', '2s', true);
            EXECUTE format('CREATE TABLE %I (LIKE incident INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING STORAGE)', name);
            -- a move, not a delete: the key of each row stays (zz_incident_key_delete is skipped)
            PERFORM set_config('quanyu.incident_moving', 'on', true);
            EXECUTE format('WITH moved AS (DELETE FROM incident_pdefault WHERE reported_at >= %L AND reported_at < %L RETURNING *)
                            INSERT INTO %I (%s) SELECT %s FROM moved', m, incident_month_add(m, 1), name, cols, cols);
            PERFORM set_config('quanyu.incident_moving', '', true);
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (reported_at >= %L AND reported_at < %L)',
                           name, name || '_month', m, incident_month_add(m, 1));
            EXECUTE format('ALTER TABLE incident ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, m, incident_month_add(m, 1));
            made := made || name;
        EXCEPTION WHEN lock_not_available THEN
            RAISE NOTICE 'month % not made now (another session holds incident); its rows wait in incident_pdefault', name;
        END;
        PERFORM set_config('lock_timeout', old_timeout, true);
    END LOOP;
    RETURN made;
END $$;
