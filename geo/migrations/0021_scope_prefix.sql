-- Scope by code prefix. A district (620802), town (620802001) or community (620802001001)
-- code is the prefix of everything under it, but a city's 620800 and a province's 620000
-- are not: their prefixes are 6208 and 62. The app now sets `quanyu.scope` to the prefix
-- (computed once per request, so the per-row test stays a plain LIKE) and `quanyu.unit`
-- to the account's code as written, which is what the audit log records.

CREATE FUNCTION code_prefix(code text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN length(code) = 6 AND code !~ '^0+$' THEN regexp_replace(code, '(00)+$', '') ELSE code END
$$;

CREATE FUNCTION quanyu_unit() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('quanyu.unit', true), ''), quanyu_scope())
$$;

-- A unit's ancestors stay visible (names and outlines for the breadcrumb), its siblings do not.
ALTER POLICY scope ON admin_unit USING (in_scope(code) OR quanyu_scope() LIKE code_prefix(code) || '%');

CREATE OR REPLACE FUNCTION audit_write(p_action text, p_target text, p_detail jsonb, p_ok boolean DEFAULT true)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO audit_log (username, role, admin_code, action, target, detail, ok, ip)
    VALUES (nullif(current_setting('quanyu.user', true), ''), nullif(current_setting('quanyu.role', true), ''),
            quanyu_unit(), p_action, p_target, coalesce(p_detail, '{}'::jsonb), p_ok,
            nullif(current_setting('quanyu.ip', true), ''))
    RETURNING id
$$;

CREATE OR REPLACE FUNCTION audit_unit() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(quanyu_unit(), (SELECT min(code) FROM jurisdiction))
$$;

CREATE OR REPLACE FUNCTION audit_incident_history() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer;
BEGIN
    SELECT count(*) INTO n FROM new_rows;
    IF n = 1 THEN
        INSERT INTO audit_log (username, role, admin_code, action, target, detail, ip)
        SELECT audit_actor(), nullif(current_setting('quanyu.role', true), ''), coalesce(quanyu_unit(), r.admin_code),
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
