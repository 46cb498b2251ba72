-- The closed loop (闭环) of an incident: its lifecycle enforced in the database, the
-- duplicate link, reminders of 督办 and the keys of the Open311 intake.
--
-- Why enforce the lifecycle here and not only in geo/lifecycle.py: an incident's history is
-- evidence in assessment (考核), so no path (a SQL console, a future import, a bug in a
-- callback) may move a status along an edge the workflow does not have, nor without the
-- history row that says who moved it. Two cheap triggers do that:
--   * incident_check_transition refuses any status change not allowed by incident_transition_allowed
--     (the same edges as geo.lifecycle.TRANSITIONS; a test keeps them equal);
--   * incident_status_recorded, deferred to commit, refuses a status change whose
--     transaction did not also append the matching incident_history row.
-- Inserts are not checked: new incidents start wherever their source put them (imports
-- and the demo carry historical statuses together with their history).

-- The allowed edges, as a function rather than a table: test fixtures truncate data tables,
-- and a reference table emptied by accident would freeze every incident.
CREATE FUNCTION incident_transition_allowed(from_status text, to_status text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT (from_status, to_status) IN (
        ('received', 'registered'), ('received', 'cancelled'),
        ('registered', 'dispatched'), ('registered', 'escalated'), ('registered', 'cancelled'),
        ('dispatched', 'in_progress'), ('dispatched', 'returned'), ('dispatched', 'escalated'),
        ('in_progress', 'verified'), ('in_progress', 'returned'), ('in_progress', 'escalated'),
        ('verified', 'closed'), ('verified', 'in_progress'),
        ('closed', 'followed_up'),
        ('returned', 'dispatched'), ('returned', 'escalated'), ('returned', 'cancelled'),
        ('escalated', 'dispatched'), ('escalated', 'in_progress'), ('escalated', 'cancelled'))
$$;

CREATE FUNCTION incident_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT incident_transition_allowed(OLD.status, NEW.status) THEN
        RAISE EXCEPTION 'incident %: status % -> % is not an allowed transition (状态流转不允许)',
            OLD.id, OLD.status, NEW.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER incident_check_transition BEFORE UPDATE OF status ON incident
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION incident_check_transition();

CREATE FUNCTION incident_status_recorded() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_status text;
BEGIN
    SELECT to_status INTO last_status FROM incident_history
     WHERE incident_id = NEW.id ORDER BY id DESC LIMIT 1;
    IF last_status IS DISTINCT FROM (SELECT status FROM incident WHERE id = NEW.id) THEN
        RAISE EXCEPTION 'incident %: status changed to % without an incident_history row (状态变更未留痕)',
            NEW.id, NEW.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER incident_status_recorded AFTER UPDATE OF status ON incident
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION incident_status_recorded();

-- A duplicate report is cancelled and points at the incident it was merged into.
ALTER TABLE incident ADD COLUMN merged_into bigint REFERENCES incident (id);
ALTER TABLE incident ADD CONSTRAINT incident_not_merged_into_itself CHECK (merged_into IS DISTINCT FROM id);
-- What Open311 reporters give besides name and phone.
ALTER TABLE incident ADD COLUMN reporter_email text;
ALTER TABLE incident ADD COLUMN media_url text CHECK (media_url IS NULL OR media_url ~* '^https?://');
CREATE INDEX incident_status_idx ON incident (status);
CREATE INDEX incident_minor_reported_idx ON incident (minor_code, reported_at);

-- 督办 reminders: recorded (no SMS gateway yet), at most one per incident per CST day.
CREATE TABLE reminder (
    id           bigserial   PRIMARY KEY,
    incident_id  bigint      NOT NULL REFERENCES incident (id),
    sent_at      timestamptz NOT NULL DEFAULT now(),
    sent_on      date        GENERATED ALWAYS AS ((sent_at AT TIME ZONE 'Asia/Shanghai')::date) STORED,
    channel      text        NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms', 'phone', 'notice', 'screen')),
    kind         text        NOT NULL CHECK (kind IN ('overdue', 'due_soon')),
    to_whom      text        NOT NULL,
    note         text,
    admin_code   varchar(12) NOT NULL
);
CREATE UNIQUE INDEX reminder_once_a_day_idx ON reminder (incident_id, sent_on);

-- Keys of Open311 clients. Only a SHA-256 of the key is kept: keys are 256-bit random
-- tokens, so a fast hash is as safe as a slow one and verifying costs nothing per request.
CREATE TABLE api_key (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL,
    key_hash    text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
