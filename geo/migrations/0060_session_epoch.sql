-- Issue #17: a revocation version for the web workers' session caches.
-- A worker keeps a signed-in session in memory for a few seconds instead of reading
-- app_session on every request (static files and tiles included). Anything that can end
-- or change a session (sign-out, expiry moved earlier, idle clock set back, an account
-- disabled, its role, unit or password changed, a row deleted) bumps auth_epoch.version
-- in the same transaction, so the version and the change become visible together; a
-- worker that sees a new version drops every cached session it validated before it.
CREATE TABLE auth_epoch (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint  NOT NULL DEFAULT 1
);
INSERT INTO auth_epoch DEFAULT VALUES;
REVOKE ALL ON auth_epoch FROM PUBLIC;

CREATE FUNCTION auth_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET version = version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER app_session_epoch AFTER UPDATE ON app_session FOR EACH ROW
    WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR NEW.expires_at < OLD.expires_at
          OR NEW.last_seen < OLD.last_seen OR NEW.user_id <> OLD.user_id OR NEW.csrf_token <> OLD.csrf_token)
    EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER app_session_epoch_delete AFTER DELETE ON app_session FOR EACH STATEMENT
    EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER app_user_epoch AFTER UPDATE ON app_user FOR EACH ROW
    WHEN (NEW.active IS DISTINCT FROM OLD.active OR NEW.role <> OLD.role OR NEW.admin_code <> OLD.admin_code
          OR NEW.password_hash <> OLD.password_hash OR NEW.display_name <> OLD.display_name OR NEW.username <> OLD.username)
    EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER app_user_epoch_delete AFTER DELETE ON app_user FOR EACH STATEMENT
    EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER app_session_epoch_truncate AFTER TRUNCATE ON app_session FOR EACH STATEMENT
    EXECUTE FUNCTION auth_epoch_bump();
CREATE TRIGGER app_user_epoch_truncate AFTER TRUNCATE ON app_user FOR EACH STATEMENT
    EXECUTE FUNCTION auth_epoch_bump();
