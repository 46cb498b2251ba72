-- Security after the pre-aggregation (0018/0019): scope the new table, keep trigger and
-- maintenance functions running with the owner's rights, and audit grid edits and incident
-- transitions in the database, whichever path made them (page, Open311, CLI, import).

GRANT SELECT ON incident_daily TO quanyu_web;
ALTER TABLE incident_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY scope ON incident_daily USING (in_scope(admin_code));

-- CREATE OR REPLACE FUNCTION resets SECURITY DEFINER, so this is asserted again for every
-- function a trigger on a public table calls (except the ones that only refuse), and for
-- the maintenance functions a request may set off.
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT DISTINCT t.tgfoid::regprocedure
               FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND NOT t.tgisinternal
                AND t.tgfoid::regproc::text NOT IN ('forbid_change', 'forbid_truncate', 'incident_check_transition') LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = public, pg_temp', f);
    END LOOP;
END $$;
ALTER FUNCTION locate_points(regclass, geometry) SECURITY DEFINER SET search_path = public, pg_temp;
ALTER FUNCTION refresh_household_hex() SECURITY DEFINER SET search_path = public, pg_temp;

-- Who did it: the signed-in account the app set for the request, else the database user
-- (the CLI, an import, a psql session).
CREATE FUNCTION audit_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('quanyu.user', true), ''), 'db:' || session_user)
$$;

-- Whose log an entry belongs to: the account's unit, else (the CLI) the whole jurisdiction,
-- so that an auditor of the district sees it.
CREATE FUNCTION audit_unit() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(quanyu_scope(), (SELECT min(code) FROM jurisdiction))
$$;

CREATE FUNCTION audit_incident_history() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer;
BEGIN
    SELECT count(*) INTO n FROM new_rows;
    IF n = 1 THEN
        INSERT INTO audit_log (username, role, admin_code, action, target, detail, ip)
        SELECT audit_actor(), nullif(current_setting('quanyu.role', true), ''), coalesce(quanyu_scope(), r.admin_code),
               'incident.transition', 'incident:' || r.incident_id,
               jsonb_build_object('from', r.from_status, 'to', r.to_status, 'actor', r.actor),
               nullif(current_setting('quanyu.ip', true), '')
          FROM new_rows r;
    ELSIF n > 1 THEN
        -- A bulk load (an import, the demo) is one entry, not one per row.
        INSERT INTO audit_log (username, role, admin_code, action, target, detail, ip)
        SELECT audit_actor(), nullif(current_setting('quanyu.role', true), ''), audit_unit(),
               'incident.transition.bulk', n || ' rows',
               jsonb_build_object('rows', n, 'incidents', (SELECT count(DISTINCT incident_id) FROM new_rows),
                                  'first_ids', (SELECT jsonb_agg(incident_id) FROM (SELECT incident_id FROM new_rows LIMIT 20) f)),
               nullif(current_setting('quanyu.ip', true), '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER incident_history_audit AFTER INSERT ON incident_history
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_incident_history();

CREATE FUNCTION audit_grid_edit() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer; codes jsonb;
BEGIN
    SELECT count(*), jsonb_agg(DISTINCT code) FILTER (WHERE code IS NOT NULL) INTO n, codes
      FROM (SELECT code FROM new_rows LIMIT 200) s;
    IF n > 0 THEN
        INSERT INTO audit_log (username, role, admin_code, action, target, detail, ip)
        VALUES (audit_actor(), nullif(current_setting('quanyu.role', true), ''), audit_unit(),
                'grid.' || lower(TG_OP), CASE WHEN n = 1 THEN 'grid:' || (codes->>0) ELSE n || ' grids' END,
                jsonb_build_object('codes', codes, 'rows', (SELECT count(*) FROM new_rows)),
                nullif(current_setting('quanyu.ip', true), ''));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER grid_audit_insert AFTER INSERT ON grid
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_grid_edit();
CREATE TRIGGER grid_audit_update AFTER UPDATE ON grid
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_grid_edit();
