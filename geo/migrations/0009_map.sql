-- Household density pre-aggregated into hexagons of three sizes (one per zoom band).
--
-- Households change rarely (imports), the map asks often: counting 2 million points per
-- tile would cost seconds, reading a few hundred hexagons costs milliseconds. Hexagons are
-- laid out in the jurisdiction's metric CRS so that "400 m" means 400 m on the ground.

CREATE TABLE household_hex (
    size_m      integer     NOT NULL,
    households  integer     NOT NULL,
    persons     integer     NOT NULL,
    geom        geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX household_hex_geom_idx ON household_hex USING gist (geom);
CREATE INDEX household_hex_size_idx ON household_hex (size_m);

CREATE FUNCTION refresh_household_hex() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    srid integer := coalesce((SELECT metric_srid FROM jurisdiction LIMIT 1), 3857);
    n bigint;
BEGIN
    DELETE FROM household_hex;
    -- Hexagons are laid out in metres, then tested against households in EPSG:4326 so the
    -- GiST index on household.geom does the work (transforming every household would not).
    INSERT INTO household_hex (size_m, households, persons, geom)
    SELECT hex.size_m, count(*), sum(h.persons), hex.geom
      FROM (SELECT s.size_m, ST_Transform(g.geom, 4326) AS geom
              FROM (VALUES (1000), (400), (150)) AS s(size_m)
              CROSS JOIN LATERAL ST_HexagonGrid(s.size_m,
                    (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 4326), srid) FROM household)) AS g) hex
      JOIN household h ON ST_Intersects(hex.geom, h.geom)
     GROUP BY hex.size_m, hex.geom;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO setting (key, value) VALUES ('household_hex_version',
        to_jsonb((SELECT version FROM data_version WHERE name = 'household')))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
    RETURN n;
END $$;
