-- Stored forecasts (issue #16 风险预测): one run per as-of instant and horizon, one row per
-- grid. The weekly run (Monday 00:00 China time, 7 days) feeds the big screen's 下周预警
-- layer and, a week later, its 预测命中率 (how last week's forecast did); any run of
-- `python -m geo forecast --store` is kept the same way. Runs are computed by the owner
-- (the CLI, or the app's system connection) over the whole jurisdiction; row-level security
-- keeps each unit to its own grids' rows, as for grid_risk.

CREATE TABLE forecast_run (
    id          bigserial   PRIMARY KEY,
    as_of       timestamptz NOT NULL,
    days        integer     NOT NULL CHECK (days BETWEEN 1 AND 90),
    model       jsonb       NOT NULL,          -- method, coefficients, training rows
    seconds     real        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (as_of, days)
);

CREATE TABLE forecast_grid (
    run_id      bigint      NOT NULL REFERENCES forecast_run (id) ON DELETE CASCADE,
    grid_code   varchar(15) NOT NULL,
    admin_code  varchar(12) NOT NULL,          -- the grid's community (row-level security key)
    expected    real        NOT NULL CHECK (expected >= 0),
    recent      real        NOT NULL,          -- the last 28 days' pace over the same horizon
    rank        integer     NOT NULL,
    tier        text        NOT NULL CHECK (tier IN ('high', 'medium', 'low')),
    rising      boolean     NOT NULL,
    reasons     text[]      NOT NULL,
    PRIMARY KEY (run_id, grid_code)
);
CREATE INDEX forecast_grid_rank_idx ON forecast_grid (run_id, rank);

ALTER TABLE forecast_grid ENABLE ROW LEVEL SECURITY;
CREATE POLICY scope ON forecast_grid USING (in_scope(admin_code));
GRANT SELECT ON forecast_run, forecast_grid TO quanyu_web;

-- The layer and the screen redraw when a run is stored.
INSERT INTO data_version (name) VALUES ('forecast_run') ON CONFLICT DO NOTHING;
CREATE TRIGGER forecast_run_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON forecast_run
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();
