-- The map's caption says 演示数据 only for the layers holding synthetic rows
-- (geo/analysis/attribution.py, asked on every big screen load). Without these indexes
-- "is any row synthetic?" scans a whole table whenever none is (a real county: 2 million
-- households read to learn nothing); a partial index is empty then, and the probe instant.
CREATE INDEX IF NOT EXISTS admin_unit_synthetic_idx ON admin_unit (code) WHERE synthetic;
CREATE INDEX IF NOT EXISTS grid_synthetic_idx ON grid (code) WHERE synthetic;
CREATE INDEX IF NOT EXISTS household_synthetic_idx ON household (id) WHERE synthetic;
CREATE INDEX IF NOT EXISTS place_synthetic_idx ON place (id) WHERE synthetic;
CREATE INDEX IF NOT EXISTS incident_synthetic_idx ON incident (id) WHERE synthetic;
