-- Accounts, sessions, audit, and jurisdiction scope enforced by PostgreSQL itself.
--
-- The web app keeps one pool of connections as the database owner, and on every request
-- switches the borrowed connection to the signed-in user's database role (SET ROLE, the
-- pattern PostgREST uses) and sets `quanyu.scope` to the user's administrative code. From
-- then on row-level security decides what exists: a town leader's query for "all
-- incidents" returns the town's incidents, whatever the callback asked for. Personal
-- columns (names, phones, ID numbers) are not granted to any web role at all: the web reads
-- their masked copies (generated columns), and the full value only through
-- reveal_personal(), which checks the role and writes the audit row in the same call.
-- The CLI and system jobs (imports, demo, recomputes) run as the owner, which RLS does not
-- restrict.

-- ------------------------------------------------------------------ scope helpers
CREATE FUNCTION quanyu_scope() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('quanyu.scope', true), '')
$$;

-- A code is in scope when it lies under the user's unit. No scope set means nothing (a
-- web role without a scope sees no rows: failing closed).
CREATE FUNCTION in_scope(code text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT code LIKE quanyu_scope() || '%'
$$;

-- ------------------------------------------------------------------ masking in SQL
-- The same rules as geo/masking.py (a test holds them equal): 张三 -> 张*, 138****1234,
-- 620802********1234.
CREATE FUNCTION mask_name(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v IS NULL OR v = '' THEN v
                ELSE left(btrim(v), 1) || repeat('*', greatest(char_length(btrim(v)) - 1, 1)) END
$$;

CREATE FUNCTION mask_middle(v text, keep_start integer, keep_end integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v IS NULL OR v = '' THEN v ELSE (
        SELECT left(t, ks) || repeat('*', char_length(t) - ks - ke) || right(t, ke)
          FROM (SELECT btrim(v) AS t) s,
               LATERAL (SELECT CASE WHEN char_length(s.t) < keep_start + keep_end + 4 THEN char_length(s.t) / 4 ELSE keep_start END AS ks,
                               CASE WHEN char_length(s.t) < keep_start + keep_end + 4 THEN char_length(s.t) / 4 ELSE keep_end END AS ke) k)
    END
$$;

CREATE FUNCTION mask_phone(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT mask_middle(v, 3, 4)
$$;

CREATE FUNCTION mask_id(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT mask_middle(v, 6, 4)
$$;

ALTER TABLE household ADD COLUMN head_name_masked text GENERATED ALWAYS AS (mask_name(head_name)) STORED,
                      ADD COLUMN phone_masked text GENERATED ALWAYS AS (mask_phone(phone)) STORED;
ALTER TABLE incident ADD COLUMN reporter_name_masked text GENERATED ALWAYS AS (mask_name(reporter_name)) STORED,
                     ADD COLUMN reporter_phone_masked text GENERATED ALWAYS AS (mask_phone(reporter_phone)) STORED;
-- Key persons' names are personal; a school's or a filling station's name is not.
ALTER TABLE place ADD COLUMN name_masked text GENERATED ALWAYS AS
                      (CASE WHEN kind = 'key_person' THEN mask_name(name) ELSE name END) STORED,
                  ADD COLUMN id_number_masked text GENERATED ALWAYS AS (mask_id(id_number)) STORED,
                  ADD COLUMN phone_masked text GENERATED ALWAYS AS (mask_phone(phone)) STORED;

-- ------------------------------------------------------------------ accounts
CREATE TABLE app_user (
    id            bigserial   PRIMARY KEY,
    username      text        NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{2,64}$'),
    display_name  text        NOT NULL DEFAULT '',
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'operator', 'planner', 'leader', 'grid_worker', 'auditor')),
    -- The unit the account is bound to: 6-digit district, 9-digit town, 12-digit community.
    admin_code    varchar(12) NOT NULL CHECK (admin_code ~ '^[0-9]{6}([0-9]{3}){0,2}$'),
    active        boolean     NOT NULL DEFAULT true,
    failed_count  integer     NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

-- Sessions live in the database, not only in a signed cookie, so that sign-out, expiry and
-- disabling an account take effect at once on every worker. Only a hash of the token is kept.
CREATE TABLE app_session (
    token_hash   text        PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES app_user(id) ON DELETE CASCADE,
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    ip           text,
    user_agent   text
);
CREATE INDEX app_session_user_idx ON app_session (user_id);

-- Every sign-in attempt, for throttling by account and by address.
CREATE TABLE login_attempt (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    username  text        NOT NULL,
    ip        text,
    ok        boolean     NOT NULL
);
CREATE INDEX login_attempt_user_idx ON login_attempt (username, at);
CREATE INDEX login_attempt_ip_idx ON login_attempt (ip, at);

-- ------------------------------------------------------------------ audit log
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    username    text,
    role        text,
    -- the actor's unit: an auditor sees the actions of accounts inside their own unit
    admin_code  varchar(12),
    action      text        NOT NULL,
    target      text,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    ok          boolean     NOT NULL DEFAULT true,
    ip          text
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE FUNCTION forbid_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_truncate();

-- The only way a web role writes the audit log: who is taken from the session settings
-- the app set for the request, never from the caller's arguments.
CREATE FUNCTION audit_write(p_action text, p_target text, p_detail jsonb, p_ok boolean DEFAULT true)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO audit_log (username, role, admin_code, action, target, detail, ok, ip)
    VALUES (nullif(current_setting('quanyu.user', true), ''), nullif(current_setting('quanyu.role', true), ''),
            quanyu_scope(), p_action, p_target, coalesce(p_detail, '{}'::jsonb), p_ok,
            nullif(current_setting('quanyu.ip', true), ''))
    RETURNING id
$$;

-- ------------------------------------------------------------------ database roles
-- Roles are cluster-wide; several databases on one cluster (tests, benchmarks) share them.
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['quanyu_web', 'quanyu_public', 'quanyu_admin', 'quanyu_operator', 'quanyu_planner',
                             'quanyu_leader', 'quanyu_grid_worker', 'quanyu_auditor', 'quanyu_unmask'] LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END LOOP;
END $$;

DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['quanyu_public', 'quanyu_admin', 'quanyu_operator', 'quanyu_planner',
                             'quanyu_leader', 'quanyu_grid_worker', 'quanyu_auditor'] LOOP
        EXECUTE format('GRANT quanyu_web TO %I', r);
    END LOOP;
    GRANT quanyu_unmask TO quanyu_admin;
    GRANT quanyu_unmask TO quanyu_operator;
    -- The owner must be able to SET ROLE to each (automatic for a superuser).
    FOREACH r IN ARRAY ARRAY['quanyu_web', 'quanyu_public', 'quanyu_admin', 'quanyu_operator', 'quanyu_planner',
                             'quanyu_leader', 'quanyu_grid_worker', 'quanyu_auditor'] LOOP
        BEGIN
            EXECUTE format('GRANT %I TO %I', r, current_user);
        EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN NULL;
        END;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA public TO quanyu_web;
GRANT SELECT ON admin_unit, jurisdiction, category, grid, grid_staff, grid_risk, household_hex,
                incident_history, coverage_run, coverage_defect, plan, plan_grid, plan_edit, reminder,
                setting, risk_config, data_version, spatial_ref_sys, geometry_columns, geography_columns,
                grid_current, grid_risk_current, key_list
             TO quanyu_web;
GRANT SELECT (id, address, persons, tags, grid_code, admin_code, geom, synthetic, head_name_masked, phone_masked)
    ON household TO quanyu_web;
GRANT SELECT (id, kind, category, tier, danger_grade, address, grid_code, admin_code, geom, synthetic,
              name_masked, id_number_masked, phone_masked)
    ON place TO quanyu_web;
GRANT SELECT (id, title, description, minor_code, source, reported_at, people_involved, duration_days,
              conflict_intensity, behaviour_risk, status, level_handled, deadline, closed_at, satisfaction,
              address, grid_code, admin_code, geom, synthetic, risk_score, risk_tier, risk_reasons, merged_into,
              media_url, reporter_name_masked, reporter_phone_masked)
    ON incident TO quanyu_web;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO quanyu_web;

-- Operators and grid workers take in and handle incidents (the app decides which
-- transitions each may make); only planners and administrators change grids and plans.
GRANT INSERT ON incident, incident_history, reminder TO quanyu_operator, quanyu_grid_worker, quanyu_public;
GRANT UPDATE (status, level_handled, deadline, closed_at, satisfaction, merged_into, title, description,
              minor_code, people_involved, duration_days, conflict_intensity, behaviour_risk, address, media_url)
    ON incident TO quanyu_operator, quanyu_grid_worker;
-- A new incident's reporter may be written (INSERT), never read back by these roles.
GRANT INSERT ON grid, plan, plan_grid, plan_edit TO quanyu_planner;
GRANT UPDATE ON grid, plan, plan_grid, plan_edit TO quanyu_planner;
GRANT DELETE ON plan_grid, plan_edit TO quanyu_planner;
GRANT UPDATE (grid_code, admin_code) ON household, place, incident TO quanyu_planner;
GRANT INSERT, UPDATE, DELETE ON grid_staff TO quanyu_planner;
GRANT ALL ON ALL TABLES IN SCHEMA public TO quanyu_admin;
REVOKE ALL ON app_user, app_session, login_attempt, audit_log, api_key, schema_migration FROM quanyu_admin;
-- Administrators too read personal columns only through reveal_personal() (audited).
REVOKE SELECT ON household, place, incident FROM quanyu_admin;
GRANT SELECT ON audit_log TO quanyu_auditor, quanyu_admin;

-- ------------------------------------------------------------------ row-level security
ALTER TABLE admin_unit ENABLE ROW LEVEL SECURITY;
-- A unit's ancestors stay visible (names for the breadcrumb); its siblings do not.
CREATE POLICY scope ON admin_unit USING (in_scope(code) OR quanyu_scope() LIKE code || '%');

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['grid', 'grid_staff', 'household', 'place', 'incident', 'incident_history',
                             'coverage_defect', 'plan', 'reminder'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY scope ON %I USING (in_scope(admin_code)) WITH CHECK (in_scope(admin_code))', t);
    END LOOP;
END $$;

ALTER TABLE grid_risk ENABLE ROW LEVEL SECURITY;
CREATE POLICY scope ON grid_risk USING (in_scope(left(grid_code, 12)));
ALTER TABLE plan_grid ENABLE ROW LEVEL SECURITY;
CREATE POLICY scope ON plan_grid USING (EXISTS (SELECT 1 FROM plan p WHERE p.id = plan_id));
ALTER TABLE plan_edit ENABLE ROW LEVEL SECURITY;
CREATE POLICY scope ON plan_edit USING (EXISTS (SELECT 1 FROM plan p WHERE p.id = plan_id));
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY scope ON audit_log FOR SELECT USING (in_scope(admin_code));

-- Household hexagons are split by town so that a town's map counts its own households.
ALTER TABLE household_hex ADD COLUMN admin_code varchar(12) NOT NULL DEFAULT '';
ALTER TABLE household_hex ENABLE ROW LEVEL SECURITY;
CREATE POLICY scope ON household_hex USING (in_scope(admin_code));

CREATE OR REPLACE FUNCTION refresh_household_hex() RETURNS bigint LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    srid integer := coalesce((SELECT metric_srid FROM jurisdiction LIMIT 1), 3857);
    n bigint;
BEGIN
    DELETE FROM household_hex;
    -- Hexagons are laid out in metres, then tested against households in EPSG:4326 so the
    -- GiST index on household.geom does the work (transforming every household would not).
    INSERT INTO household_hex (size_m, households, persons, geom, admin_code)
    SELECT hex.size_m, count(*), sum(h.persons), hex.geom, left(h.admin_code, 9)
      FROM (SELECT s.size_m, ST_Transform(g.geom, 4326) AS geom
              FROM (VALUES (1000), (400), (150)) AS s(size_m)
              CROSS JOIN LATERAL ST_HexagonGrid(s.size_m,
                    (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 4326), srid) FROM household)) AS g) hex
      JOIN household h ON ST_Intersects(hex.geom, h.geom)
     GROUP BY hex.size_m, hex.geom, left(h.admin_code, 9);
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO setting (key, value) VALUES ('household_hex_version',
        to_jsonb((SELECT version FROM data_version WHERE name = 'household')))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
    RETURN n;
END $$;
-- Rebuild now, with the town split (old rows carry no code and would be invisible).
SELECT refresh_household_hex() WHERE EXISTS (SELECT 1 FROM household);

-- Views read their tables with the caller's rights, so the policies above apply to them.
ALTER VIEW grid_current SET (security_invoker = true);
ALTER VIEW grid_risk_current SET (security_invoker = true);
ALTER VIEW key_list SET (security_invoker = true);

-- Trigger and maintenance functions keep derived tables (history, risk, versions) whole
-- whoever wrote the row: they run with the owner's rights, over the whole jurisdiction.
ALTER FUNCTION bump_data_version() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION grid_keep_history() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION incident_status_recorded() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION risk_incident_row() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION risk_incident_statement() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION risk_on_return() SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION locate_points(regclass, geometry) SECURITY DEFINER SET search_path = public, pg_temp;

-- ------------------------------------------------------------------ unmasking
-- The full name / phone / ID number of one record, for a role allowed to unmask, inside
-- its scope, with the audit row written in the same transaction (no audit, no value).
CREATE FUNCTION reveal_personal(p_kind text, p_id bigint) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    caller text := current_setting('role');
    result jsonb;
    code text;
BEGIN
    IF caller <> 'none' AND NOT pg_has_role(caller, 'quanyu_unmask', 'MEMBER') THEN
        PERFORM audit_write('unmask.refused', p_kind || ':' || p_id, '{}'::jsonb, false);
        RAISE EXCEPTION 'role % may not unmask personal data', caller USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_kind = 'household' THEN
        SELECT jsonb_build_object('head_name', head_name, 'phone', phone), admin_code INTO result, code
          FROM household WHERE id = p_id;
    ELSIF p_kind = 'incident' THEN
        SELECT jsonb_build_object('reporter_name', reporter_name, 'reporter_phone', reporter_phone,
                                  'reporter_email', reporter_email), admin_code INTO result, code
          FROM incident WHERE id = p_id;
    ELSIF p_kind = 'place' THEN
        SELECT jsonb_build_object('name', name, 'id_number', id_number, 'phone', phone), admin_code INTO result, code
          FROM place WHERE id = p_id;
    ELSE
        RAISE EXCEPTION 'unknown kind %', p_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF result IS NULL OR (caller <> 'none' AND NOT coalesce(in_scope(code), false)) THEN
        RAISE EXCEPTION 'no % %', p_kind, p_id USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM audit_write('unmask', p_kind || ':' || p_id, jsonb_build_object('fields', (SELECT jsonb_agg(k) FROM jsonb_object_keys(result) k)));
    RETURN result;
END $$;
GRANT EXECUTE ON FUNCTION reveal_personal(text, bigint) TO quanyu_web;
