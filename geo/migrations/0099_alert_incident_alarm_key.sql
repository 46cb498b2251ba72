-- Issue #17 (a province, the Citus path): an alarm's link to an incident carries the key of
-- both its ends. admin_code stays its incident's (0050, kept in step by 0098): row-level
-- security on the links reads it, so a unit sees the links of its own incidents as before.
-- alert_admin_code is its alarm's: the two codes differ for a group alarm (cluster, joint,
-- repeat) whose incidents lie on both sides of a unit boundary, or share a reporter's phone
-- anywhere, and for a link whose incident was re-located since. alert_group joins alarm and
-- links on it, so the join names both sides' key. Set by the database on insert (alert_raise
-- and alert_group need not pass it), re-derived if a row is rewritten, and followed if an
-- alarm ever changes unit (no path does: only the database owner may update alert.admin_code).
ALTER TABLE alert_incident ADD COLUMN alert_admin_code varchar(12);
UPDATE alert_incident ai SET alert_admin_code = a.admin_code FROM alert a WHERE a.id = ai.alert_id;

CREATE FUNCTION alert_incident_alert_admin_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.alert_admin_code := (SELECT admin_code FROM alert WHERE id = NEW.alert_id);
    RETURN NEW;
END $$;
CREATE TRIGGER alert_incident_alert_admin_code BEFORE INSERT OR UPDATE OF alert_id, alert_admin_code ON alert_incident
    FOR EACH ROW EXECUTE FUNCTION alert_incident_alert_admin_code();
ALTER TABLE alert_incident ALTER COLUMN alert_admin_code SET NOT NULL;

CREATE FUNCTION alert_links_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE alert_incident SET alert_admin_code = NEW.admin_code WHERE alert_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER alert_links_follow AFTER UPDATE OF admin_code ON alert
    FOR EACH ROW WHEN (OLD.admin_code IS DISTINCT FROM NEW.admin_code) EXECUTE FUNCTION alert_links_follow();

-- As in 0050, the alarm and its links joined on the alarm's key as well as its id.
CREATE OR REPLACE FUNCTION alert_group(p_rule text, p_id bigint, p_members bigint[], p_subject text, p_detail jsonb,
                                       p_grid text, p_admin text, p_geom geometry)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    aid bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM alert_incident ai JOIN alert a ON a.id = ai.alert_id AND a.admin_code = ai.alert_admin_code
                WHERE ai.incident_id = p_id AND a.rule = p_rule) THEN
        RETURN NULL;
    END IF;
    SELECT a.id INTO aid FROM alert a JOIN alert_incident ai ON ai.alert_id = a.id AND ai.alert_admin_code = a.admin_code
     WHERE a.rule = p_rule AND a.status <> 'closed' AND ai.incident_id = ANY(p_members)
     ORDER BY a.id LIMIT 1;
    IF aid IS NULL THEN
        RETURN alert_raise(p_rule, p_rule || ':' || p_id, p_subject, p_detail, p_grid, p_admin, p_geom,
                           p_members || p_id);
    END IF;
    INSERT INTO alert_incident (alert_id, incident_id, admin_code)
    SELECT aid, i.id, i.admin_code FROM incident i WHERE i.id = ANY(p_members || p_id) ON CONFLICT DO NOTHING;
    UPDATE alert SET updated_at = now(), detail = detail || jsonb_build_object('count', p_detail->'count',
                                                                             'sources', p_detail->'sources')
     WHERE id = aid;
    INSERT INTO alert_history (alert_id, action, from_status, to_status, actor, note, admin_code)
    SELECT aid, 'link', a.status, a.status, audit_actor(), '事件 #' || p_id, a.admin_code FROM alert a WHERE a.id = aid;
    RETURN aid;
END $$;
