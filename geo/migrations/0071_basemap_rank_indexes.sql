-- A county's road layer at low zoom: a zoom-9 tile covers the whole county, and only its
-- highways (rank 1) are drawn there. With one GiST index PostgreSQL finds every road in the tile
-- and then drops the minor ones (200,000 rows read for a few hundred kept). Partial indexes, one
-- per rank threshold the basemap layers use (layers/basemap.py BY_RANK), hold only what a zoom
-- band draws.
CREATE INDEX basemap_feature_rank1_geom_idx ON basemap_feature USING gist (geom) WHERE rank <= 1;
CREATE INDEX basemap_feature_rank2_geom_idx ON basemap_feature USING gist (geom) WHERE rank <= 2;
CREATE INDEX basemap_feature_rank3_geom_idx ON basemap_feature USING gist (geom) WHERE rank <= 3;
