-- Data versions: one counter per table, bumped by every statement that changes it.
--
-- The dashboard polls these counters (one tiny query) to know what changed, and caches
-- tiles and aggregates under them. The counter is an ordinary row updated inside the
-- writer's transaction, so a reader sees the new version only together with the new data
-- (a sequence would bump before commit and let a reader cache old data under the new
-- version).

CREATE TABLE data_version (
    name        text        PRIMARY KEY,
    version     bigint      NOT NULL DEFAULT 1,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO data_version AS d (name) VALUES (TG_TABLE_NAME)
    ON CONFLICT (name) DO UPDATE SET version = d.version + 1, changed_at = now();
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['incident', 'grid', 'household', 'place', 'grid_staff', 'admin_unit'] LOOP
        INSERT INTO data_version (name) VALUES (t) ON CONFLICT DO NOTHING;
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()', t || '_data_version', t);
    END LOOP;
END $$;
