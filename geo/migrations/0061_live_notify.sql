-- Issue #17, push not poll: every data version bump is announced with NOTIFY.
-- data_version (0008) is bumped inside the writer's transaction; NOTIFY is delivered only
-- when that transaction commits (and not at all when it rolls back), so a listener hears
-- of a version exactly when a reader can see it. One channel for the data
-- ('quanyu_data', payload 'name:version'), one for the revocation version of 0060
-- ('quanyu_auth'): each web worker listens on its own connection (geo/live.py) and
-- pushes the versions to its open screens (server-sent events, /api/live).
CREATE FUNCTION notify_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('quanyu_data', NEW.name || ':' || NEW.version);
    RETURN NULL;
END $$;
CREATE TRIGGER data_version_notify AFTER INSERT OR UPDATE ON data_version
    FOR EACH ROW EXECUTE FUNCTION notify_data_version();

CREATE FUNCTION notify_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('quanyu_auth', NEW.version::text);
    RETURN NULL;
END $$;
CREATE TRIGGER auth_epoch_notify AFTER UPDATE ON auth_epoch
    FOR EACH ROW EXECUTE FUNCTION notify_auth_epoch();
