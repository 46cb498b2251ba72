-- Repeated failed handling (退回) is an escalation signal the incident's tier counts from
-- its history. The lifecycle writes the history row after the status change, so the row
-- trigger of 0004 saw one return too few; re-assess when a return is recorded.
-- (SET minor_code = minor_code fires the assessment trigger and nothing else: the
-- transition checks of 0007 fire only when the status really changes.)
CREATE FUNCTION risk_on_return() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE incident SET minor_code = minor_code WHERE id = NEW.incident_id;
    RETURN NULL;
END $$;
CREATE TRIGGER incident_history_risk AFTER INSERT ON incident_history
    FOR EACH ROW WHEN (NEW.to_status = 'returned') EXECUTE FUNCTION risk_on_return();
