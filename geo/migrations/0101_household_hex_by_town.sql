-- Household hexagons refreshed town by town (issue #17: a city, a province). The map's
-- households layer reads household_hex, and a tile refreshed the whole table whenever any
-- household had changed since it was built (0009, 0016): one grid worker's edit made the
-- next person who showed the layer wait for every household of the jurisdiction to be
-- counted again (35 s for 2 million households at city scale, minutes for a province, and
-- the tile given up meanwhile). The hexagons are already split by town (left(admin_code, 9),
-- 0016) and ST_HexagonGrid lays them out from the origin of the metric system whatever the
-- extent asked for, so the hexagons of one town computed from that town's households alone
-- are exactly its rows of a full refresh. A statement trigger notes the towns a change
-- touched (before and after it), and the refresh recomputes those towns only.

CREATE TABLE household_hex_dirty (
    admin_code varchar(12) PRIMARY KEY  -- a town code (9 digits), or '*': everything (a TRUNCATE, a table never built)
);

CREATE FUNCTION household_hex_mark() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO household_hex_dirty VALUES ('*') ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO household_hex_dirty SELECT DISTINCT left(admin_code, 9) FROM new_rows ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO household_hex_dirty SELECT DISTINCT left(admin_code, 9) FROM old_rows ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO household_hex_dirty
        SELECT left(admin_code, 9) FROM new_rows UNION SELECT left(admin_code, 9) FROM old_rows
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER household_hex_insert AFTER INSERT ON household
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION household_hex_mark();
CREATE TRIGGER household_hex_update AFTER UPDATE ON household
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION household_hex_mark();
CREATE TRIGGER household_hex_delete AFTER DELETE ON household
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION household_hex_mark();
CREATE TRIGGER household_hex_truncate AFTER TRUNCATE ON household
    FOR EACH STATEMENT EXECUTE FUNCTION household_hex_mark();

-- The hexagons of `towns` (NULL: every household), from their households; the caller has
-- removed their old rows.
CREATE FUNCTION household_hex_count(towns text[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    srid integer := coalesce((SELECT metric_srid FROM jurisdiction LIMIT 1), 3857);
    n bigint;
BEGIN
    -- Hexagons are laid out in metres, then tested against households in EPSG:4326 so the
    -- GiST index on household.geom does the work (transforming every household would not).
    INSERT INTO household_hex (size_m, households, persons, geom, admin_code)
    SELECT hex.size_m, count(*), sum(h.persons), hex.geom, left(h.admin_code, 9)
      FROM (SELECT s.size_m, ST_Transform(g.geom, 4326) AS geom
              FROM (VALUES (1000), (400), (150)) AS s(size_m)
              CROSS JOIN LATERAL ST_HexagonGrid(s.size_m,
                    (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 4326), srid) FROM household
                      WHERE towns IS NULL OR left(admin_code, 9) = ANY(towns))) AS g) hex
      JOIN household h ON ST_Intersects(hex.geom, h.geom)
     WHERE towns IS NULL OR left(h.admin_code, 9) = ANY(towns)
     GROUP BY hex.size_m, hex.geom, left(h.admin_code, 9);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Every hexagon again (after a bulk load; the first build).
CREATE OR REPLACE FUNCTION refresh_household_hex() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7246810101);  -- one refresh at a time, full or by town
    DELETE FROM household_hex_dirty;  -- before the count: a change committed after it marks again
    DELETE FROM household_hex;
    n := household_hex_count(NULL);
    INSERT INTO setting (key, value) VALUES ('household_hex_version',
        to_jsonb((SELECT version FROM data_version WHERE name = 'household')))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
    RETURN n;
END $$;

-- The towns whose households changed since their hexagons were counted; everything when the
-- table was never built or was emptied. Returns the hexagon rows written.
CREATE FUNCTION refresh_household_hex_changed() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    towns text[];
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7246810101);
    -- Taken (deleted) before the households are read: a change committed after this
    -- statement marks its town again and is counted by the next refresh; one committed
    -- before it is seen by the count below (each statement reads anew).
    WITH taken AS (DELETE FROM household_hex_dirty RETURNING admin_code)
    SELECT array_agg(admin_code) INTO towns FROM taken;
    IF towns IS NULL THEN
        RETURN 0;
    END IF;
    IF '*' = ANY(towns) THEN
        RETURN refresh_household_hex();
    END IF;
    DELETE FROM household_hex WHERE admin_code = ANY(towns);
    n := household_hex_count(towns);
    INSERT INTO setting (key, value) VALUES ('household_hex_version',
        to_jsonb((SELECT version FROM data_version WHERE name = 'household')))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
    RETURN n;
END $$;

-- Whether any town waits for its hexagons (the layer asks before every tile it renders).
CREATE FUNCTION household_hex_stale() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM household_hex_dirty)
$$;

-- The refreshes stay callable by every role, as refresh_household_hex always was (a web
-- request's role refreshes before its tile; they only recount what the table derives).
REVOKE ALL ON FUNCTION household_hex_mark(), household_hex_count(text[]) FROM PUBLIC;
REVOKE ALL ON TABLE household_hex_dirty FROM PUBLIC;

-- A table counted at an older version than its households' (the old test) is counted again
-- whole, now, once: a screen's tile could not (its statements stop after 10 s, and a city's
-- two million households take about 40 s). A TRUNCATE of household marks '*' later; bulk
-- loads recount the whole table themselves (geo.coverage.report.refresh_after_bulk_load).
SELECT refresh_household_hex()
 WHERE (SELECT value FROM setting WHERE key = 'household_hex_version')
       IS DISTINCT FROM to_jsonb((SELECT version FROM data_version WHERE name = 'household'))
   AND EXISTS (SELECT 1 FROM household);
