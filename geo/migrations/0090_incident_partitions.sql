-- Time partitioning of incidents (issue #17 item 3): `incident` becomes a table partitioned
-- by local (Asia/Shanghai) calendar month of reported_at, converted in place.
--
-- Why: a history load (python -m geo import incidents FILE --history) copies closed months
-- into fresh index-less tables, builds their indexes once and ATTACHes them, instead of
-- maintaining seventeen indexes row by row; old months can be detached to an archive and
-- re-attached (python -m geo archive). Our own maintenance function makes months ahead
-- (pg_partman 4.7 is packaged for Debian, but it would be one more extension every
-- deployment and every test database must carry for what one small function does here).
--
-- What changes for the rest of the schema:
-- * A partitioned table's unique constraints must include the partition key, so the
--   primary key is (id, reported_at) and the global uniqueness of `id` and `external_id`
--   lives in `incident_key` (id PRIMARY KEY, external_id UNIQUE), one row per incident,
--   kept by row triggers on `incident` (BEFORE INSERT / BEFORE DELETE / BEFORE UPDATE of
--   id, external_id). The foreign keys that referenced incident(id) (incident_history,
--   reminder, alert_incident, incident.merged_into) now reference incident_key(id): same
--   integrity (a referenced incident cannot be deleted, a reference to a missing one is
--   refused), real foreign keys, no partition key in every referencing table.
-- * Triggers, row-level security policies, grants (table and column), views over incident
--   (key_list) are carried over from the old table as they were: captured from the catalog,
--   not retyped, so nothing a later reader finds in 0001..0073 is silently lost. Statement
--   triggers with transition tables (daily aggregate, day versions, risk, alerts, data
--   version / NOTIFY) work on a partitioned table as on a plain one; row triggers are cloned
--   onto every partition.
-- * Rows in a month without its partition land in incident_pdefault (never refused);
--   incident_partitions_ensure() moves them into their month when it makes it.

CREATE TEMP TABLE m90_trigger ON COMMIT DROP AS
SELECT pg_get_triggerdef(t.oid) AS def FROM pg_trigger t
 WHERE t.tgrelid = 'incident'::regclass AND NOT t.tgisinternal ORDER BY t.tgname;
CREATE TEMP TABLE m90_index ON COMMIT DROP AS
SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = 'incident'::regclass AND NOT i.indisprimary;
CREATE TEMP TABLE m90_policy ON COMMIT DROP AS
SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies
 WHERE schemaname = 'public' AND tablename = 'incident';
CREATE TEMP TABLE m90_view ON COMMIT DROP AS
SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS def, v.reloptions
  FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
 WHERE d.refobjid = 'incident'::regclass AND v.oid <> 'incident'::regclass AND v.relkind = 'v';
CREATE TEMP TABLE m90_grant ON COMMIT DROP AS
SELECT NULL::text AS col, a.grantee, a.privilege_type, a.is_grantable
  FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = 'incident'::regclass AND a.grantee <> c.relowner
UNION ALL
SELECT att.attname::text, a.grantee, a.privilege_type, a.is_grantable
  FROM pg_attribute att, aclexplode(att.attacl) a WHERE att.attrelid = 'incident'::regclass AND att.attacl IS NOT NULL;
-- functions of the table's row type (alert_near RETURNS SETOF incident): recreated on the new type
CREATE TEMP TABLE m90_function ON COMMIT DROP AS
SELECT p.oid::regprocedure::text AS sig, pg_get_functiondef(p.oid) AS def, p.proacl
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
 WHERE d.classid = 'pg_proc'::regclass AND d.refobjid = 'incident'::regtype;
CREATE TEMP TABLE m90_fk ON COMMIT DROP AS
SELECT conrelid::regclass::text AS tbl, conname, (SELECT attname FROM pg_attribute WHERE attrelid = conrelid AND attnum = conkey[1]) AS col
  FROM pg_constraint WHERE confrelid = 'incident'::regclass AND contype = 'f';

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM m90_fk LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.conname);
    END LOOP;
END $$;

ALTER SEQUENCE incident_id_seq OWNED BY NONE;
ALTER TABLE incident RENAME TO incident_unpartitioned;
ALTER TABLE incident_unpartitioned RENAME CONSTRAINT incident_pkey TO incident_unpartitioned_pkey;

CREATE TABLE incident (LIKE incident_unpartitioned INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS
                       INCLUDING STORAGE INCLUDING COMMENTS)
    PARTITION BY RANGE (reported_at);
COMMENT ON TABLE incident IS 'Incidents and disputes, partitioned by local month of reported_at (0090).';

-- The first instant of the local (Asia/Shanghai) month holding t.
CREATE FUNCTION incident_month(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('month', t AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'
$$;

-- The first instant of the local month k months after the one starting at m (month
-- arithmetic on local dates: in UTC, 1 Dec 00:00 +08 plus a month would miss 31 Dec).
CREATE FUNCTION incident_month_add(m timestamptz, k integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (date_trunc('month', m AT TIME ZONE 'Asia/Shanghai') + make_interval(months => k)) AT TIME ZONE 'Asia/Shanghai'
$$;

-- The partition name of the month starting at m: incident_p2025_03.
CREATE FUNCTION incident_partition_name(m timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'incident_p' || to_char(m AT TIME ZONE 'Asia/Shanghai', 'YYYY_MM')
$$;

-- Make the month partitions that are missing: the months from this one to months_ahead
-- ahead, and every month that has rows waiting in the default partition (moved into their
-- month, ids and all: rows move between partitions of one table, so no trigger of the
-- table fires and every aggregate stays as it was). Returns the partitions made. Called on
-- every migrate (each process start, the CLI) and by `python -m geo archive ensure`; a
-- month made ahead of time costs an empty table.
CREATE FUNCTION incident_partitions_ensure(months_ahead integer DEFAULT 3) RETURNS text[]
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    m timestamptz;
    made text[] := '{}';
    name text;
    cols text := (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                   WHERE attrelid = 'incident'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated <> 's');
BEGIN
    FOR m IN
        SELECT DISTINCT mm FROM (
            SELECT incident_month_add(now(), k) AS mm FROM generate_series(0, months_ahead) k
            UNION SELECT incident_month(reported_at) FROM incident_pdefault) x ORDER BY 1
    LOOP
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

CREATE TABLE incident_pdefault PARTITION OF incident DEFAULT;

DO $$
DECLARE m timestamptz; name text;
BEGIN
    FOR m IN SELECT DISTINCT incident_month(reported_at) FROM incident_unpartitioned ORDER BY 1 LOOP
        name := incident_partition_name(m);
        EXECUTE format('CREATE TABLE %I PARTITION OF incident FOR VALUES FROM (%L) TO (%L)', name, m, incident_month_add(m, 1));
    END LOOP;
END $$;
SELECT incident_partitions_ensure();

DO $$
DECLARE cols text := (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                       WHERE attrelid = 'incident_unpartitioned'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated <> 's');
BEGIN
    EXECUTE format('INSERT INTO incident (%s) SELECT %s FROM incident_unpartitioned ORDER BY id', cols, cols);
END $$;

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM m90_view LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s WITH (%s) AS %s', r.name,
                       COALESCE(array_to_string(r.reloptions, ', '), ''), r.def);
    END LOOP;
END $$;

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM m90_function LOOP
        EXECUTE format('DROP FUNCTION %s', r.sig);
    END LOOP;
END $$;
DROP TABLE incident_unpartitioned;
DO $$
DECLARE r record; g record;
BEGIN
    FOR r IN SELECT * FROM m90_function LOOP
        EXECUTE r.def;
        IF r.proacl IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', r.sig);
            FOR g IN SELECT * FROM aclexplode(r.proacl) LOOP
                EXECUTE format('GRANT %s ON FUNCTION %s TO %s', g.privilege_type, r.sig,
                               CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END);
            END LOOP;
        END IF;
    END LOOP;
END $$;
ALTER SEQUENCE incident_id_seq OWNED BY incident.id;

ALTER TABLE incident ADD PRIMARY KEY (id, reported_at);
ALTER TABLE incident ADD FOREIGN KEY (minor_code) REFERENCES category (minor_code);

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM m90_index LOOP
        -- external_id: unique across months in incident_key; here an index to find rows by it
        EXECUTE replace(r.def, 'CREATE UNIQUE INDEX', 'CREATE INDEX');
    END LOOP;
    FOR r IN SELECT * FROM m90_trigger LOOP
        EXECUTE r.def;
    END LOOP;
    FOR r IN SELECT * FROM m90_policy LOOP
        EXECUTE format('CREATE POLICY %I ON incident AS %s FOR %s TO %s%s%s', r.policyname, r.permissive, r.cmd,
                       (SELECT string_agg(CASE WHEN x = 'public' THEN 'PUBLIC' ELSE quote_ident(x) END, ', ') FROM unnest(r.roles) x),
                       CASE WHEN r.qual IS NOT NULL THEN ' USING (' || r.qual || ')' ELSE '' END,
                       CASE WHEN r.with_check IS NOT NULL THEN ' WITH CHECK (' || r.with_check || ')' ELSE '' END);
    END LOOP;
    FOR r IN SELECT * FROM m90_grant LOOP
        EXECUTE format('GRANT %s%s ON incident TO %s%s', r.privilege_type,
                       CASE WHEN r.col IS NULL THEN '' ELSE ' (' || quote_ident(r.col) || ')' END,
                       CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END,
                       CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END $$;
ALTER TABLE incident ENABLE ROW LEVEL SECURITY;

-- One row per incident: where the global uniqueness of id and external_id lives, and what
-- the foreign keys of other tables reference (see the head of this file).
CREATE TABLE incident_key (
    id           bigint PRIMARY KEY,
    reported_at  timestamptz NOT NULL,
    external_id  text UNIQUE
);
INSERT INTO incident_key (id, reported_at, external_id) SELECT id, reported_at, external_id FROM incident ORDER BY id;

CREATE FUNCTION incident_key_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    target text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF current_setting('quanyu.incident_moving', true) = 'on' THEN
            -- the INSERT half of a row moving to another month: its key was updated already
            PERFORM set_config('quanyu.incident_moving', '', true);
            RETURN NEW;
        END IF;
        INSERT INTO incident_key (id, reported_at, external_id) VALUES (NEW.id, NEW.reported_at, NEW.external_id);
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM incident_key WHERE id = OLD.id;
        RETURN OLD;
    END IF;
    UPDATE incident_key SET id = NEW.id, reported_at = NEW.reported_at, external_id = NEW.external_id WHERE id = OLD.id;
    -- A new reported_at in another month moves the row to another partition: PostgreSQL runs
    -- it as a DELETE (BEFORE DELETE triggers) and an INSERT (BEFORE INSERT triggers). Deleting
    -- and re-inserting the key would break the foreign keys on it at the inner DELETE, so the
    -- two halves are told to leave the key alone (zz_incident_key_delete's WHEN, below).
    target := incident_partition_name(incident_month(NEW.reported_at));
    IF NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'incident'::regclass AND inhrelid = to_regclass(target)) THEN
        target := 'incident_pdefault';
    END IF;
    IF target <> TG_TABLE_NAME THEN
        PERFORM set_config('quanyu.incident_moving', 'on', true);
    END IF;
    RETURN NEW;
END $$;
-- "zz": after the other BEFORE row triggers (alphabetical), so a row they drop leaves no key.
CREATE TRIGGER zz_incident_key_insert BEFORE INSERT ON incident FOR EACH ROW EXECUTE FUNCTION incident_key_row();
CREATE TRIGGER zz_incident_key_delete BEFORE DELETE ON incident FOR EACH ROW
    WHEN (current_setting('quanyu.incident_moving', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION incident_key_row();
CREATE TRIGGER zz_incident_key_update BEFORE UPDATE OF id, reported_at, external_id ON incident FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.reported_at IS DISTINCT FROM NEW.reported_at
          OR OLD.external_id IS DISTINCT FROM NEW.external_id)
    EXECUTE FUNCTION incident_key_row();

-- TRUNCATE incident empties the keys too (TRUNCATE of incident_key itself would be refused
-- while other tables reference it, even when they are being emptied in the same command).
CREATE FUNCTION incident_key_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM incident_key;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_incident_key_truncate AFTER TRUNCATE ON incident FOR EACH STATEMENT EXECUTE FUNCTION incident_key_truncate();

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM m90_fk LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES incident_key (id)', r.tbl, r.conname, r.col);
    END LOOP;
END $$;

ANALYZE incident;
ANALYZE incident_key;
