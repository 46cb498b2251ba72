-- A tick with nothing to do must not move the alarms' data version: the statement trigger
-- on alert bumps it for every INSERT or UPDATE statement, even one that touches no row, and
-- every open screen (polled or pushed) then re-reads its alarms. The tick runs once a
-- minute per worker, re-offering the same overdue incidents and forecast grids: raising an
-- alarm whose trigger key exists is now answered before the INSERT, and escalation runs
-- its UPDATE only when an alarm is due.
CREATE OR REPLACE FUNCTION alert_raise(p_rule text, p_key text, p_subject text, p_detail jsonb, p_grid text, p_admin text,
                            p_geom geometry, p_incidents bigint[], p_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cfg jsonb := alert_rule(p_rule);
    aid bigint;
BEGIN
    IF cfg IS NULL OR p_admin IS NULL OR EXISTS (SELECT 1 FROM alert WHERE trigger_key = p_key) THEN
        RETURN NULL;
    END IF;
    INSERT INTO alert (rule, trigger_key, level, base_level, subject, detail, grid_code, admin_code, geom,
                       raised_at, updated_at, ack_due)
    VALUES (p_rule, p_key, (cfg->>'level')::smallint, (cfg->>'level')::smallint, left(p_subject, 200), p_detail,
            p_grid, p_admin, p_geom, p_at, p_at, p_at + make_interval(mins => (cfg->>'ack_minutes')::integer))
    ON CONFLICT (trigger_key) DO NOTHING
    RETURNING id INTO aid;
    IF aid IS NULL THEN RETURN NULL; END IF;
    INSERT INTO alert_incident (alert_id, incident_id, admin_code)
    SELECT aid, i.id, i.admin_code FROM incident i WHERE i.id = ANY(p_incidents) ON CONFLICT DO NOTHING;
    INSERT INTO alert_history (alert_id, action, from_status, to_status, at, actor, admin_code)
    VALUES (aid, 'raise', NULL, 'new', p_at, audit_actor(), p_admin);
    RETURN aid;
END $$;

CREATE OR REPLACE FUNCTION alert_tick(p_now timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    rc jsonb := alert_rule('overdue_high');
    r record;
    raised integer := 0;
    escalated integer := 0;
BEGIN
    IF rc IS NOT NULL THEN
        FOR r IN SELECT i.id, i.title, i.deadline, i.grid_code, i.admin_code, i.geom FROM incident i
                  WHERE i.closed_at IS NULL AND i.status NOT IN ('cancelled', 'closed', 'followed_up')
                    AND i.risk_tier = 'high' AND i.deadline <= p_now
                    AND i.deadline > p_now - make_interval(hours => (rc->>'lookback_hours')::integer)
        LOOP
            IF alert_raise('overdue_high', 'overdue_high:' || r.id, r.title, jsonb_build_object('deadline', r.deadline),
                           r.grid_code, r.admin_code, r.geom, ARRAY[r.id], p_now) IS NOT NULL THEN
                raised := raised + 1;
            END IF;
        END LOOP;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM alert WHERE status = 'new' AND ack_due <= p_now) THEN
        RETURN jsonb_build_object('raised', raised, 'escalated', 0);
    END IF;
    WITH up AS (
        UPDATE alert a SET level = greatest(a.level - 1, 1), escalations = a.escalations + 1, escalated_at = p_now,
                           updated_at = p_now,
                           ack_due = p_now + make_interval(mins => coalesce((alert_rule(a.rule)->>'ack_minutes')::integer, 60))
         WHERE a.status = 'new' AND a.ack_due <= p_now
        RETURNING a.id, a.level, a.admin_code
    ), hist AS (
        INSERT INTO alert_history (alert_id, action, from_status, to_status, at, actor, note, admin_code)
        SELECT id, 'escalate', 'new', 'new', p_now, audit_actor(), '未按时签收，升至 ' || level || ' 级', admin_code FROM up
    )
    SELECT count(*) INTO escalated FROM up;
    RETURN jsonb_build_object('raised', raised, 'escalated', escalated);
END $$;

REVOKE ALL ON FUNCTION alert_raise(text, text, text, jsonb, text, text, geometry, bigint[], timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION alert_tick(timestamptz) FROM PUBLIC;
