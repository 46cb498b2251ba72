-- Draft plans of a community's grids: the planner's workbench (geo.planning).
--
-- A plan copies the community's current official grids into plan_grid and edits the copy;
-- nothing touches `grid` until the plan is published, in one transaction that closes the
-- changed grids' current rows and inserts their next versions (history stays in `grid`).
-- plan_edit is the plan's undo/redo stack: each edit stores the exact rows it replaced
-- and the rows it wrote (geometry as WKB hex, so undo restores every coordinate bit for
-- bit); `undone` marks the edits above the stack pointer, discarded by the next new edit.

CREATE TABLE plan (
    id            bigserial   PRIMARY KEY,
    name          text        NOT NULL,
    admin_code    varchar(12) NOT NULL REFERENCES admin_unit (code),
    status        text        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'abandoned')),
    created_by    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    base_grid_version bigint,             -- data_version 'grid' when the plan was started
    CHECK ((status = 'published') = (published_at IS NOT NULL))
);
CREATE INDEX plan_admin_idx ON plan (admin_code, status);

CREATE TABLE plan_grid (
    plan_id             bigint      NOT NULL REFERENCES plan (id) ON DELETE CASCADE,
    code                varchar(15) NOT NULL CHECK (code ~ '^[0-9]{15}$'),
    name                text        NOT NULL,
    kind                text        NOT NULL CHECK (kind IN ('urban', 'rural', 'dedicated')),
    household_standard  integer     CHECK (household_standard > 0),
    geom                geometry(MultiPolygon, 4326),   -- NULL when removed
    action              text        NOT NULL DEFAULT 'keep' CHECK (action IN ('keep', 'new', 'changed', 'removed')),
    PRIMARY KEY (plan_id, code),
    CHECK ((action = 'removed') = (geom IS NULL))
);

CREATE TABLE plan_edit (
    plan_id     bigint      NOT NULL REFERENCES plan (id) ON DELETE CASCADE,
    seq         integer     NOT NULL,
    op          text        NOT NULL,   -- draw | reshape | split | merge | fill | trim | accept_proposal | adopt
    note        text,
    before      jsonb       NOT NULL,   -- code -> plan_grid row before the edit (null: did not exist)
    after       jsonb       NOT NULL,   -- code -> plan_grid row after the edit
    undone      boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, seq)
);
