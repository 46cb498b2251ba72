-- The append-only guard of incident_history (0030) read quanyu.undo_batch without missing_ok
-- inside the EXISTS; PL/pgSQL does not promise to stop at the first false AND, so on a session
-- that never set it, an UPDATE or DELETE failed with "unrecognized configuration parameter"
-- instead of the guard's own "incident_history is append-only". Read it once, missing_ok.
CREATE OR REPLACE FUNCTION incident_history_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch bigint := NULLIF(current_setting('quanyu.undo_batch', true), '')::bigint;
BEGIN
    IF TG_OP = 'DELETE' AND batch IS NOT NULL
       AND EXISTS (SELECT 1 FROM incident i WHERE i.id = OLD.incident_id AND i.import_batch = batch) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
