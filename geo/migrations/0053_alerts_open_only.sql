-- Only incidents still open when written set the incident rules off. An import of last
-- month's records carries many already closed (结案): they are history, and an alarm about
-- a case already handled calls nobody to act. They still count as neighbours for the
-- cluster, joint and repeat rules of an open incident. (Also keeps a bulk import of
-- closed records from paying ~10 ms per row for rules that cannot matter.)
CREATE OR REPLACE FUNCTION alert_incident_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cfg jsonb := (SELECT config FROM alert_config WHERE id = 1);
    ids bigint[];
BEGIN
    IF cfg IS NULL OR current_setting('quanyu.alerts_defer', true) = 'on' THEN RETURN NULL; END IF;
    ids := ARRAY(SELECT id FROM new_rows
                  WHERE reported_at > now() - make_interval(hours => (cfg->'evaluation'->>'max_age_hours')::integer)
                    AND status NOT IN ('closed', 'followed_up', 'cancelled'));
    IF cardinality(ids) > 0 THEN
        PERFORM alert_evaluate_incidents(ids);
    END IF;
    RETURN NULL;
END $$;
