-- Months made before the rows arrive (0090 made them ahead of the clock, and moved rows that
-- had landed in incident_pdefault on the next migrate). A bulk load of past months (an
-- import, the demo, the bench city) left every one of its rows in the default partition
-- until then: unpruned, and moved row by row at the next process start. The writers now make
-- the months of their rows first (geo.io.writers, geo.demo.loader, geo.bench.city), with
-- the same code as the maintenance job.

-- Make the partitions of `months` (first instants of local months) that are missing, moving
-- into each the rows waiting in the default partition. Returns the partitions made.
CREATE FUNCTION incident_partitions_make(months timestamptz[]) RETURNS text[]
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    m timestamptz;
    made text[] := '{}';
    name text;
    cols text := (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                   WHERE attrelid = 'incident'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated <> 's');
BEGIN
    FOR m IN SELECT DISTINCT incident_month(x) FROM unnest(months) x WHERE x IS NOT NULL ORDER BY 1 LOOP
        name := incident_partition_name(m);
        -- a month detached to the archive keeps its table (and name): its rows wait in the default
        CONTINUE WHEN to_regclass(name) IS NOT NULL;
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
    END LOOP;
    RETURN made;
END $$;

CREATE OR REPLACE FUNCTION incident_partitions_ensure(months_ahead integer DEFAULT 3) RETURNS text[]
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    RETURN incident_partitions_make(ARRAY(
        SELECT incident_month_add(now(), k) FROM generate_series(0, months_ahead) k
        UNION SELECT DISTINCT incident_month(reported_at) FROM incident_pdefault));
END $$;

REVOKE ALL ON FUNCTION incident_partitions_make(timestamptz[]) FROM PUBLIC;
