-- The county's own reference layers (底图: roads, water, residential blocks, place names from
-- the local surveying office's 1:10,000 DLG data) as a vector basemap served from PostGIS
-- tiles, and the roads that grids follow (以路为界) in the auto-partition and the coverage check
-- (issue #19).
--
-- One table for the four kinds: they are drawn and imported alike (name, class, geometry), and
-- a kind is a filter, not a schema. `class` is the office's own road or water class (国道,
-- 主干路, 次干路, 支路, 河流 ...) that the style maps to widths and colours; unknown classes draw
-- as minor ones. Not personal data: every signed-in role reads it.

CREATE TABLE basemap_feature (
    id            bigserial PRIMARY KEY,
    kind          text      NOT NULL CHECK (kind IN ('roads', 'water', 'blocks', 'places')),
    name          text,
    class         text,
    rank          smallint  NOT NULL DEFAULT 3,  -- 1 major ... 4 minor: what shows at low zoom
    geom          geometry(Geometry, 4326) NOT NULL,
    import_batch  bigint
);
CREATE INDEX basemap_feature_geom_idx ON basemap_feature USING gist (geom);
CREATE INDEX basemap_feature_kind_idx ON basemap_feature (kind, rank);

INSERT INTO data_version (name) VALUES ('basemap_feature') ON CONFLICT DO NOTHING;
CREATE TRIGGER basemap_feature_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON basemap_feature
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

GRANT SELECT ON basemap_feature TO quanyu_web;
GRANT ALL ON basemap_feature TO quanyu_admin;
GRANT USAGE ON SEQUENCE basemap_feature_id_seq TO quanyu_admin;
