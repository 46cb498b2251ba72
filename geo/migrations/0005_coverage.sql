-- Coverage defects of the official grid, kept for the map layer and the planner.
--
-- geo.coverage.refresh() fills these from a full analysis of the jurisdiction. A run
-- records the grid and admin_unit data versions it saw (data_version, 0008), so a reader
-- knows whether the defects still describe the current grids and a refresh is skipped
-- when nothing changed. Only the latest run is kept: history of the grids lives in `grid`.

CREATE TABLE coverage_run (
    id             bigserial   PRIMARY KEY,
    grid_version   bigint      NOT NULL,
    admin_version  bigint      NOT NULL,
    config         jsonb       NOT NULL,   -- the planning settings the run used
    score          double precision,       -- share of the jurisdiction covered exactly once
    scores         jsonb       NOT NULL DEFAULT '{}',  -- community code -> its score
    summary        jsonb       NOT NULL DEFAULT '{}',  -- counts per finding
    seconds        real,
    computed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE coverage_defect (
    id            bigserial     PRIMARY KEY,
    run_id        bigint        NOT NULL REFERENCES coverage_run (id) ON DELETE CASCADE,
    kind          text          NOT NULL CHECK (kind IN ('gap', 'sliver', 'overlap', 'outside', 'crossing')),
    grid_codes    varchar(15)[] NOT NULL DEFAULT '{}',  -- overlap: the pair; gap/sliver: grids bordering it
    admin_code    varchar(12)   NOT NULL,
    area_m2       double precision NOT NULL CHECK (area_m2 >= 0),
    width_m       double precision,                     -- slivers: mean width 2A/P
    lon           double precision NOT NULL,            -- a point inside the defect, to label or fly to
    lat           double precision NOT NULL,
    grid_version  bigint        NOT NULL,               -- data_version 'grid' the defect was computed at
    geom          geometry(MultiPolygon, 4326) NOT NULL,
    computed_at   timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX coverage_defect_geom_idx ON coverage_defect USING gist (geom);
CREATE INDEX coverage_defect_admin_idx ON coverage_defect (admin_code, kind);
