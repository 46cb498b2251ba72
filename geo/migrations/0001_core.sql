-- Core data model of Quanyu.
--
-- Conventions that every later migration keeps:
--  * geometry is stored in EPSG:4326 (WGS84 / CGCS2000 lon/lat); metric work uses
--    geography or the jurisdiction's Gauss-Kruger zone (jurisdiction.metric_srid);
--  * every row carries `admin_code`, the most specific 统计用区划代码 it belongs to
--    (12 digits where the community is known), so that row-level security can scope
--    by prefix and a distributed deployment can shard by left(admin_code, 6);
--  * `synthetic` marks every row made by the demo generator.

CREATE EXTENSION IF NOT EXISTS postgis;

-- The jurisdiction this database serves (one row: the district or city of the centre).
CREATE TABLE jurisdiction (
    code         varchar(12) PRIMARY KEY,
    name         text        NOT NULL,
    metric_srid  integer     NOT NULL,
    source       text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Administrative units: city (6 digits, ends in 00), district/county (6), town/street (9),
-- community/village (12).
CREATE TABLE admin_unit (
    code         varchar(12) PRIMARY KEY CHECK (code ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
    level        text        NOT NULL CHECK (level IN ('city', 'district', 'town', 'community')),
    name         text        NOT NULL,
    kind         text,       -- 市/区/县/街道/镇/乡/社区/村
    urban        boolean     NOT NULL DEFAULT false,
    parent_code  varchar(12) REFERENCES admin_unit (code),
    admin_code   varchar(12) GENERATED ALWAYS AS (code) STORED,
    geom         geometry(MultiPolygon, 4326),
    synthetic    boolean     NOT NULL DEFAULT false,
    source       text,
    CHECK (level <> 'town' OR length(code) = 9),
    CHECK (level <> 'community' OR length(code) = 12),
    CHECK (level NOT IN ('city', 'district') OR length(code) = 6)
);
CREATE INDEX admin_unit_geom_idx ON admin_unit USING gist (geom);
CREATE INDEX admin_unit_parent_idx ON admin_unit (parent_code);

-- Incident categories (major/minor) with the responsible department and time limit.
CREATE TABLE category (
    minor_code   varchar(4)  PRIMARY KEY,
    major_code   varchar(2)  NOT NULL,
    major_name   text        NOT NULL,
    minor_name   text        NOT NULL,
    department   text        NOT NULL,
    time_limit   integer     NOT NULL CHECK (time_limit > 0),
    time_unit    text        NOT NULL CHECK (time_unit IN ('working_hours', 'working_days')),
    severity     smallint    NOT NULL CHECK (severity BETWEEN 1 AND 5),
    is_dispute   boolean     NOT NULL,
    description  text
);

-- Grids. A grid is identified by its 15-digit code; each boundary is one row, and an edit
-- closes the current row (valid_to) and adds a new one, so no boundary is ever lost.
-- `layer` separates the official grid from departmental layers (police beats, urban
-- management...) that 多网合一 must reconcile.
CREATE TABLE grid (
    gid                 bigserial   PRIMARY KEY,
    code                varchar(15) NOT NULL CHECK (code ~ '^[0-9]{15}$'),
    name                text        NOT NULL,
    kind                text        NOT NULL CHECK (kind IN ('urban', 'rural', 'dedicated')),
    dedicated_type      text        CHECK (dedicated_type IN ('school', 'hospital', 'park', 'enterprise', 'government', 'market', 'other')),
    layer               text        NOT NULL DEFAULT 'official',
    household_standard  integer     CHECK (household_standard > 0),
    admin_code          varchar(12) NOT NULL REFERENCES admin_unit (code),
    version             integer     NOT NULL DEFAULT 1,
    valid_from          timestamptz NOT NULL DEFAULT now(),
    valid_to            timestamptz,
    edited_by           text,
    edit_note           text,
    geom                geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    synthetic           boolean     NOT NULL DEFAULT false,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX grid_current_code_idx ON grid (layer, code) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX grid_code_version_idx ON grid (layer, code, version);
CREATE INDEX grid_geom_current_idx ON grid USING gist (geom) WHERE valid_to IS NULL;
CREATE INDEX grid_admin_idx ON grid (admin_code) WHERE valid_to IS NULL;

-- A boundary row is history: only valid_to (closing it) may change.
CREATE FUNCTION grid_keep_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'grid % version % is history and cannot be deleted; close it with valid_to', OLD.code, OLD.version;
    END IF;
    IF NEW.geom IS DISTINCT FROM OLD.geom OR NEW.code IS DISTINCT FROM OLD.code
       OR NEW.version IS DISTINCT FROM OLD.version OR NEW.layer IS DISTINCT FROM OLD.layer
       OR (OLD.valid_to IS NOT NULL AND NEW.valid_to IS DISTINCT FROM OLD.valid_to) THEN
        RAISE EXCEPTION 'grid % version %: a boundary is never edited in place; add a new version', OLD.code, OLD.version;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER grid_keep_history BEFORE UPDATE OR DELETE ON grid
    FOR EACH ROW EXECUTE FUNCTION grid_keep_history();

CREATE VIEW grid_current AS
    SELECT * FROM grid WHERE valid_to IS NULL AND layer = 'official';

-- Grid staff in the 1+1+N pattern.
CREATE TABLE grid_staff (
    id          bigserial   PRIMARY KEY,
    grid_code   varchar(15) NOT NULL,
    role        text        NOT NULL CHECK (role IN ('leader', 'fulltime', 'parttime', 'mobile')),
    name        text        NOT NULL,
    phone       text,
    admin_code  varchar(12) NOT NULL REFERENCES admin_unit (code),
    synthetic   boolean     NOT NULL DEFAULT false
);
CREATE INDEX grid_staff_grid_idx ON grid_staff (grid_code);

-- Households. grid_code is derived spatially (geo.assign) and re-derived when grids change.
CREATE TABLE household (
    id          bigserial   PRIMARY KEY,
    address     text        NOT NULL,
    head_name   text,
    phone       text,
    persons     smallint    NOT NULL DEFAULT 1 CHECK (persons BETWEEN 0 AND 100),
    tags        text[]      NOT NULL DEFAULT '{}' CHECK (tags <@ ARRAY['new_arrival', 'left_behind', 'major_change', 'hardship', 'unemployed']),
    grid_code   varchar(15),
    admin_code  varchar(12) NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    synthetic   boolean     NOT NULL DEFAULT false
);
CREATE INDEX household_geom_idx ON household USING gist (geom);
CREATE INDEX household_grid_idx ON household (grid_code);

-- 重点人、危险物、敏感地 and service centres: everything watched or served at a point.
CREATE TABLE place (
    id            bigserial   PRIMARY KEY,
    kind          text        NOT NULL CHECK (kind IN ('key_person', 'dangerous_thing', 'sensitive_place', 'service_center')),
    category      text        NOT NULL,
    name          text        NOT NULL,
    tier          smallint    CHECK (tier BETWEEN 1 AND 3),      -- management tier: 1 strict .. 3 routine
    danger_grade  smallint    CHECK (danger_grade BETWEEN 0 AND 5), -- 严重精神障碍 risk grade
    id_number     text,
    phone         text,
    address       text,
    grid_code     varchar(15),
    admin_code    varchar(12) NOT NULL,
    geom          geometry(Point, 4326) NOT NULL,
    synthetic     boolean     NOT NULL DEFAULT false
);
CREATE INDEX place_geom_idx ON place USING gist (geom);
CREATE INDEX place_kind_idx ON place (kind, grid_code);

-- Incidents and disputes, with the four risk factors of the Lijiang mechanism.
CREATE TABLE incident (
    id                  bigserial   PRIMARY KEY,
    title               text        NOT NULL,
    description         text,
    minor_code          varchar(4)  NOT NULL REFERENCES category (minor_code),
    source              text        NOT NULL CHECK (source IN ('patrol', 'resident', 'hotline', 'police', 'open311', 'operator', 'import')),
    reported_at         timestamptz NOT NULL,
    people_involved     integer     NOT NULL DEFAULT 1 CHECK (people_involved >= 0),
    duration_days       integer     NOT NULL DEFAULT 0 CHECK (duration_days >= 0),
    conflict_intensity  smallint    NOT NULL DEFAULT 0 CHECK (conflict_intensity BETWEEN 0 AND 3),
    behaviour_risk      smallint    NOT NULL DEFAULT 0 CHECK (behaviour_risk BETWEEN 0 AND 3),
    status              text        NOT NULL DEFAULT 'received' CHECK (status IN (
                            'received', 'registered', 'dispatched', 'in_progress', 'verified', 'closed',
                            'followed_up', 'returned', 'escalated', 'cancelled')),
    level_handled       text        CHECK (level_handled IN ('community', 'town', 'district')),
    deadline            timestamptz,
    closed_at           timestamptz,
    satisfaction        smallint    CHECK (satisfaction BETWEEN 1 AND 5),
    address             text,
    reporter_name       text,
    reporter_phone      text,
    grid_code           varchar(15),
    admin_code          varchar(12) NOT NULL,
    geom                geometry(Point, 4326) NOT NULL,
    synthetic           boolean     NOT NULL DEFAULT false,
    CHECK (closed_at IS NULL OR closed_at >= reported_at)
);
CREATE INDEX incident_geom_idx ON incident USING gist (geom);
CREATE INDEX incident_reported_idx ON incident (reported_at);
CREATE INDEX incident_grid_idx ON incident (grid_code, reported_at);
CREATE INDEX incident_open_idx ON incident (deadline) WHERE closed_at IS NULL AND status <> 'cancelled';

-- Append-only status history.
CREATE TABLE incident_history (
    id           bigserial   PRIMARY KEY,
    incident_id  bigint      NOT NULL REFERENCES incident (id),
    from_status  text,
    to_status    text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL,
    note         text,
    admin_code   varchar(12) NOT NULL
);
CREATE INDEX incident_history_incident_idx ON incident_history (incident_id, at);

CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER incident_history_append_only BEFORE UPDATE OR DELETE ON incident_history
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Record of every import, so a user can see what came from which file.
CREATE TABLE import_log (
    id          bigserial   PRIMARY KEY,
    layer       text        NOT NULL,
    file_name   text        NOT NULL,
    source_crs  text        NOT NULL,
    rows        integer     NOT NULL,
    repaired    integer     NOT NULL DEFAULT 0,
    imported_at timestamptz NOT NULL DEFAULT now(),
    note        text
);

-- Small facts about this database (which demo is loaded, configuration versions).
CREATE TABLE setting (
    key         text        PRIMARY KEY,
    value       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
