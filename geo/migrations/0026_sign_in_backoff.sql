-- Sign-in throttling that slows a guesser without locking the owner out (issue #18, 5).
--
-- Before: five failures locked an account for everybody for 15 minutes (anyone could lock
-- `admin` out), and a locked account answered at once while an unknown name spent an
-- Argon2 verification (so a lock told which names exist). Now failures are counted per
-- name and source address from login_attempt (geo/security/accounts.py): each source backs
-- off exponentially on a name, an address is refused across names after many failures, and
-- a name refuses new addresses after very many; an address that has signed in to the
-- account before is never refused for the name alone. An administrator's unlock (enable,
-- password reset) forgives every failure before it: failures count only after this time.
ALTER TABLE app_user ADD COLUMN throttle_reset_at timestamptz;
UPDATE app_user SET throttle_reset_at = now() WHERE locked_until IS NOT NULL;
UPDATE app_user SET failed_count = 0, locked_until = NULL;
COMMENT ON COLUMN app_user.locked_until IS 'unused since migration 0026 (throttling is computed from login_attempt)';
COMMENT ON COLUMN app_user.failed_count IS 'unused since migration 0026 (throttling is computed from login_attempt)';
