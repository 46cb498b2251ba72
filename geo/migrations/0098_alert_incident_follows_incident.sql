-- Issue #17 (a province, the Citus path): alert_incident.admin_code is its incident's (0050
-- copies it when the link is made), so the alarm desk joins a link to its incident on id
-- and admin_code (geo/alerts/lifecycle.py), which names both sides' distribution key. An
-- incident changes unit after it was linked when grids are republished (locate_points at
-- publish re-derives grid_code and admin_code of the points in the changed area) or
-- re-located in bulk: the link follows, or the keyed join would lose the incident and the
-- link would stay visible to the old unit's row-level security and hidden from the new
-- one's. Only a row whose admin_code really changes fires (nothing for the lifecycle's
-- status updates); links made before are put in step once here.
UPDATE alert_incident ai SET admin_code = i.admin_code
  FROM incident i WHERE i.id = ai.incident_id AND ai.admin_code IS DISTINCT FROM i.admin_code;

CREATE FUNCTION alert_incident_follow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE alert_incident SET admin_code = NEW.admin_code WHERE incident_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER incident_alert_links_follow AFTER UPDATE OF admin_code ON incident
    FOR EACH ROW WHEN (OLD.admin_code IS DISTINCT FROM NEW.admin_code) EXECUTE FUNCTION alert_incident_follow();
