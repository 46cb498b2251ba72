-- 预警 (alarms): rules evaluated inside the writing transaction, a lifecycle with an
-- append-only history, escalation by time, row-level security by unit.
--
-- Why in the database: incidents arrive through the importer, Open311, the intake page,
-- the CLI and the simulator; a statement trigger on incident is the one place all of them
-- pass, so no channel can skip the rules, and an alarm commits (or rolls back) together
-- with the incident that raised it. Each alarm has a unique trigger key (rule + what set
-- it off), so re-evaluating the same incident never raises it twice. The thresholds live
-- in alert_config (loaded from data/alerts.toml by geo/alerts/rules.py); the texts shown
-- to people are rendered from `detail` by geo/alerts/rules.py with geo/labels.py.

CREATE TABLE alert_config (
    id         integer     PRIMARY KEY CHECK (id = 1),
    config     jsonb       NOT NULL,
    source     text        NOT NULL DEFAULT '',
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert (
    id           bigserial   PRIMARY KEY,
    rule         text        NOT NULL CHECK (rule IN ('high_incident', 'grid_high', 'cluster', 'crowd', 'joint',
                                                      'repeat', 'overdue_high', 'forecast')),
    trigger_key  text        NOT NULL UNIQUE,
    -- the four colours of Chinese warnings: 1 红 (特别严重) .. 4 蓝 (一般)
    level        smallint    NOT NULL CHECK (level BETWEEN 1 AND 4),
    base_level   smallint    NOT NULL CHECK (base_level BETWEEN 1 AND 4),
    status       text        NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'acknowledged', 'handling', 'closed')),
    subject      text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    grid_code    varchar(15),
    admin_code   varchar(12) NOT NULL,
    geom         geometry(Point, 4326),
    raised_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    ack_due      timestamptz NOT NULL,
    escalations  smallint    NOT NULL DEFAULT 0,
    escalated_at timestamptz,
    acked_by     text,
    acked_at     timestamptz,
    handled_by   text,
    handled_at   timestamptz,
    closed_by    text,
    closed_at    timestamptz,
    close_note   text,
    CHECK (status = 'new' OR acked_at IS NOT NULL),
    CHECK (status <> 'closed' OR (closed_at IS NOT NULL AND coalesce(close_note, '') <> ''))
);
CREATE INDEX alert_open_idx ON alert (level, raised_at) WHERE status <> 'closed';
CREATE INDEX alert_due_idx ON alert (ack_due) WHERE status = 'new';
CREATE INDEX alert_raised_idx ON alert (raised_at DESC);

CREATE TABLE alert_incident (
    alert_id     bigint      NOT NULL REFERENCES alert (id),
    incident_id  bigint      NOT NULL REFERENCES incident (id),
    admin_code   varchar(12) NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, incident_id)
);
CREATE INDEX alert_incident_incident_idx ON alert_incident (incident_id);

CREATE TABLE alert_history (
    id           bigserial   PRIMARY KEY,
    alert_id     bigint      NOT NULL REFERENCES alert (id),
    action       text        NOT NULL CHECK (action IN ('raise', 'link', 'escalate', 'ack', 'handle', 'close')),
    from_status  text,
    to_status    text        NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL,
    note         text,
    admin_code   varchar(12) NOT NULL
);
CREATE INDEX alert_history_alert_idx ON alert_history (alert_id, at);
CREATE TRIGGER alert_history_append_only BEFORE UPDATE OR DELETE ON alert_history
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Same party = same reporter phone (digits only): the 12345 and 110 records carry it.
CREATE INDEX incident_reporter_digits_idx ON incident ((regexp_replace(reporter_phone, '\D', '', 'g')), reported_at)
    WHERE reporter_phone IS NOT NULL;

-- The live screen polls data_version: alarms get a counter of their own.
INSERT INTO data_version (name) VALUES ('alert') ON CONFLICT DO NOTHING;
CREATE TRIGGER alert_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON alert
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version();

-- ------------------------------------------------------------------ raising

-- A rule's settings, NULL when the rule is switched off or no configuration is loaded.
CREATE FUNCTION alert_rule(p_rule text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT c.config->'rules'->p_rule FROM alert_config c
     WHERE c.id = 1 AND coalesce((c.config->'rules'->p_rule->>'enabled')::boolean, true)
$$;

-- Raise one alarm (nothing when its trigger key exists already); links its incidents and
-- writes the first history row. Returns the new id or NULL.
CREATE FUNCTION alert_raise(p_rule text, p_key text, p_subject text, p_detail jsonb, p_grid text, p_admin text,
                            p_geom geometry, p_incidents bigint[], p_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cfg jsonb := alert_rule(p_rule);
    aid bigint;
BEGIN
    IF cfg IS NULL OR p_admin IS NULL THEN RETURN NULL; END IF;
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

-- A group rule (cluster, joint, repeat) met by incident p_id with its `members`: the
-- incident joins an open alarm of the same rule that already holds one of the members,
-- else it raises a new one. Never twice: an incident already linked to an alarm of this
-- rule is skipped.
CREATE FUNCTION alert_group(p_rule text, p_id bigint, p_members bigint[], p_subject text, p_detail jsonb,
                            p_grid text, p_admin text, p_geom geometry)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    aid bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM alert_incident ai JOIN alert a ON a.id = ai.alert_id
                WHERE ai.incident_id = p_id AND a.rule = p_rule) THEN
        RETURN NULL;
    END IF;
    SELECT a.id INTO aid FROM alert a JOIN alert_incident ai ON ai.alert_id = a.id
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

-- Incidents near a point within a time window (the window ends at p_until): the GiST box
-- first, then the exact distance on the sphere.
CREATE FUNCTION alert_near(p_geom geometry, p_radius_m double precision, p_from timestamptz, p_until timestamptz)
RETURNS SETOF incident LANGUAGE sql STABLE AS $$
    SELECT o.* FROM incident o
     WHERE o.geom && ST_Expand(p_geom, p_radius_m / (111320 * greatest(cos(radians(ST_Y(p_geom))), 0.01)))
       AND ST_DWithin(o.geom::geography, p_geom::geography, p_radius_m)
       AND o.reported_at > p_from AND o.reported_at <= p_until AND o.status <> 'cancelled'
$$;

-- Every rule that looks at one new incident, for the incidents `ids` (the statement
-- trigger passes the recent rows of each INSERT). Returns the number of alarms raised or
-- joined.
CREATE FUNCTION alert_evaluate_incidents(ids bigint[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cfg jsonb := (SELECT config FROM alert_config WHERE id = 1);
    r record;
    rc jsonb;
    members bigint[];
    srcs text[];
    digits text;
    n integer := 0;
    got bigint;
BEGIN
    IF cfg IS NULL THEN RETURN 0; END IF;
    FOR r IN
        SELECT i.id, i.title, i.source, i.reported_at, i.people_involved, i.risk_tier, i.risk_reasons, i.grid_code,
               i.admin_code, i.geom, i.reporter_phone, c.major_code, c.major_name
          FROM incident i JOIN category c ON c.minor_code = i.minor_code
         WHERE i.id = ANY(ids) AND i.status <> 'cancelled'
         ORDER BY i.reported_at, i.id
    LOOP
        -- 高风险事件: a new incident the risk trigger put in the high tier.
        IF r.risk_tier = 'high' THEN
            got := alert_raise('high_incident', 'high_incident:' || r.id, r.title,
                               jsonb_build_object('reasons', to_jsonb(r.risk_reasons)),
                               r.grid_code, r.admin_code, r.geom, ARRAY[r.id]);
            n := n + (got IS NOT NULL)::integer;
        END IF;
        -- 聚集苗头 (many people): one incident with many people involved.
        rc := alert_rule('crowd');
        IF rc IS NOT NULL AND r.people_involved >= (rc->>'people')::integer THEN
            got := alert_raise('crowd', 'crowd:' || r.id, r.title,
                               jsonb_build_object('people', r.people_involved, 'threshold', (rc->>'people')::integer),
                               r.grid_code, r.admin_code, r.geom, ARRAY[r.id]);
            n := n + (got IS NOT NULL)::integer;
        END IF;
        -- 聚集苗头 (cluster): several incidents of one major category close in space and time.
        rc := alert_rule('cluster');
        IF rc IS NOT NULL THEN
            members := ARRAY(SELECT o.id FROM alert_near(r.geom, (rc->>'radius_m')::float8,
                                                         r.reported_at - make_interval(hours => (rc->>'hours')::integer),
                                                         r.reported_at) o
                               JOIN category oc ON oc.minor_code = o.minor_code
                              WHERE oc.major_code = r.major_code AND o.id <> r.id ORDER BY o.reported_at, o.id);
            IF cardinality(members) + 1 >= (rc->>'count')::integer THEN
                got := alert_group('cluster', r.id, members, r.major_name,
                                   jsonb_build_object('count', cardinality(members) + 1, 'major', r.major_name,
                                                      'radius_m', (rc->>'radius_m')::float8, 'hours', (rc->>'hours')::integer,
                                                      'threshold', (rc->>'count')::integer),
                                   r.grid_code, r.admin_code, r.geom);
                n := n + (got IS NOT NULL)::integer;
            END IF;
        END IF;
        digits := regexp_replace(coalesce(r.reporter_phone, ''), '\D', '', 'g');
        IF length(digits) < 7 THEN digits := NULL; END IF;
        -- 联合预警: the same place or party reported by several different sources.
        rc := alert_rule('joint');
        IF rc IS NOT NULL THEN
            SELECT coalesce(array_agg(o.id ORDER BY o.reported_at, o.id), '{}'), coalesce(array_agg(DISTINCT o.source), '{}')
              INTO members, srcs
              FROM (SELECT o.id, o.source, o.reported_at FROM alert_near(r.geom, (rc->>'radius_m')::float8,
                                                  r.reported_at - make_interval(hours => (rc->>'hours')::integer), r.reported_at) o
                    UNION
                    SELECT o.id, o.source, o.reported_at FROM incident o
                     WHERE digits IS NOT NULL AND o.reporter_phone IS NOT NULL
                       AND regexp_replace(o.reporter_phone, '\D', '', 'g') = digits
                       AND o.reported_at > r.reported_at - make_interval(hours => (rc->>'hours')::integer)
                       AND o.reported_at <= r.reported_at AND o.status <> 'cancelled') o
             WHERE o.id <> r.id;
            srcs := ARRAY(SELECT DISTINCT s FROM unnest(srcs || r.source) s ORDER BY s);
            IF cardinality(srcs) >= (rc->>'sources')::integer THEN
                got := alert_group('joint', r.id, members, r.title,
                                   jsonb_build_object('sources', to_jsonb(srcs), 'count', cardinality(members) + 1,
                                                      'radius_m', (rc->>'radius_m')::float8, 'hours', (rc->>'hours')::integer,
                                                      'threshold', (rc->>'sources')::integer),
                                   r.grid_code, r.admin_code, r.geom);
                n := n + (got IS NOT NULL)::integer;
            END IF;
        END IF;
        -- 重复报警: the same place or party reported again and again.
        rc := alert_rule('repeat');
        IF rc IS NOT NULL THEN
            members := ARRAY(SELECT o.id FROM (
                                 SELECT o.id, o.reported_at FROM alert_near(r.geom, (rc->>'radius_m')::float8,
                                                  r.reported_at - make_interval(days => (rc->>'days')::integer), r.reported_at) o
                                 UNION
                                 SELECT o.id, o.reported_at FROM incident o
                                  WHERE digits IS NOT NULL AND o.reporter_phone IS NOT NULL
                                    AND regexp_replace(o.reporter_phone, '\D', '', 'g') = digits
                                    AND o.reported_at > r.reported_at - make_interval(days => (rc->>'days')::integer)
                                    AND o.reported_at <= r.reported_at AND o.status <> 'cancelled') o
                              WHERE o.id <> r.id ORDER BY o.reported_at, o.id);
            IF cardinality(members) + 1 >= (rc->>'count')::integer THEN
                got := alert_group('repeat', r.id, members, r.title,
                                   jsonb_build_object('count', cardinality(members) + 1, 'radius_m', (rc->>'radius_m')::float8,
                                                      'days', (rc->>'days')::integer, 'threshold', (rc->>'count')::integer),
                                   r.grid_code, r.admin_code, r.geom);
                n := n + (got IS NOT NULL)::integer;
            END IF;
        END IF;
    END LOOP;
    RETURN n;
END $$;

-- Every INSERT on incident, whatever the channel. Rows reported long before they are
-- written (an import of last year's records, the demo's history) raise nothing: an alarm
-- is a call to act now (evaluation.max_age_hours in data/alerts.toml).
CREATE FUNCTION alert_incident_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    cfg jsonb := (SELECT config FROM alert_config WHERE id = 1);
    ids bigint[];
BEGIN
    IF cfg IS NULL OR current_setting('quanyu.alerts_defer', true) = 'on' THEN RETURN NULL; END IF;
    ids := ARRAY(SELECT id FROM new_rows
                  WHERE reported_at > now() - make_interval(hours => (cfg->'evaluation'->>'max_age_hours')::integer));
    IF cardinality(ids) > 0 THEN
        PERFORM alert_evaluate_incidents(ids);
    END IF;
    RETURN NULL;
END $$;
-- Named to fire after incident_grid_risk_insert (same event: triggers fire by name).
CREATE TRIGGER incident_zz_alerts AFTER INSERT ON incident REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_incident_statement();

-- 网格升为高风险: a grid whose tier rises to high. The first computation of a grid (tier
-- NULL before) is a baseline, not a rise. One alarm per grid and day at most, so a grid
-- hovering at the threshold does not ring all day.
CREATE FUNCTION alert_grid_rise() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    g record;
    cfg jsonb := (SELECT config FROM alert_config WHERE id = 1);
BEGIN
    IF cfg IS NULL OR current_setting('quanyu.alerts_defer', true) = 'on' THEN RETURN NULL; END IF;
    SELECT code, name, admin_code, ST_PointOnSurface(geom) AS pt INTO g FROM grid_current WHERE code = NEW.grid_code;
    IF g.code IS NULL THEN RETURN NULL; END IF;
    PERFORM alert_raise('grid_high',
                        'grid_high:' || NEW.grid_code || ':' || to_char(now() AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD'),
                        coalesce(g.name, g.code),
                        jsonb_build_object('from', OLD.tier, 'score', round(NEW.score::numeric, 1),
                                           'reasons', to_jsonb(NEW.reasons)),
                        g.code, g.admin_code, g.pt,
                        ARRAY(SELECT i.id FROM incident i
                               WHERE i.grid_code = NEW.grid_code AND i.status <> 'cancelled'
                                 AND i.reported_at > now() - make_interval(hours => (cfg->'evaluation'->>'max_age_hours')::integer)
                               ORDER BY i.reported_at DESC LIMIT 20));
    RETURN NULL;
END $$;
CREATE TRIGGER grid_risk_alert AFTER UPDATE OF tier ON grid_risk FOR EACH ROW
    WHEN (NEW.tier = 'high' AND OLD.tier IS NOT NULL AND OLD.tier <> 'high')
    EXECUTE FUNCTION alert_grid_rise();

-- What time alone sets off, run by the live screen (at most once a minute) and by
-- `python -m geo alerts tick` (cron): high-tier incidents that just went past their
-- deadline, and alarms nobody acknowledged in their rule's time, which go up one colour
-- (蓝→黄→橙→红) and get a new acknowledgement deadline.
CREATE FUNCTION alert_tick(p_now timestamptz DEFAULT now()) RETURNS jsonb
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

-- ------------------------------------------------------------------ audit

-- Every step of an alarm is also an audit_log entry (who, when, from where), written by
-- the database whichever path made it.
CREATE FUNCTION audit_alert_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO audit_log (username, role, admin_code, action, target, detail, ip)
    SELECT audit_actor(), nullif(current_setting('quanyu.role', true), ''), r.admin_code, 'alert.' || r.action,
           'alert:' || r.alert_id,
           jsonb_build_object('from', r.from_status, 'to', r.to_status, 'actor', r.actor, 'note', r.note),
           nullif(current_setting('quanyu.ip', true), '')
      FROM new_rows r;
    RETURN NULL;
END $$;
CREATE TRIGGER alert_history_audit AFTER INSERT ON alert_history
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_alert_history();

-- ------------------------------------------------------------------ security

ALTER TABLE alert ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_incident ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_history ENABLE ROW LEVEL SECURITY;
CREATE POLICY scope ON alert USING (in_scope(admin_code)) WITH CHECK (in_scope(admin_code));
CREATE POLICY scope ON alert_incident USING (in_scope(admin_code)) WITH CHECK (in_scope(admin_code));
CREATE POLICY scope ON alert_history USING (in_scope(admin_code)) WITH CHECK (in_scope(admin_code));

GRANT SELECT ON alert, alert_incident, alert_history, alert_config TO quanyu_web;
-- Operators and administrators acknowledge, handle and close; nobody but the rules raises.
GRANT UPDATE (status, updated_at, acked_by, acked_at, handled_by, handled_at, closed_by, closed_at, close_note)
    ON alert TO quanyu_operator, quanyu_admin;
GRANT INSERT ON alert_history TO quanyu_operator, quanyu_admin;
GRANT USAGE ON SEQUENCE alert_history_id_seq TO quanyu_operator, quanyu_admin;
GRANT INSERT, UPDATE ON alert_config TO quanyu_admin;
REVOKE ALL ON FUNCTION alert_raise(text, text, text, jsonb, text, text, geometry, bigint[], timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION alert_group(text, bigint, bigint[], text, jsonb, text, text, geometry) FROM PUBLIC;
REVOKE ALL ON FUNCTION alert_evaluate_incidents(bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION alert_tick(timestamptz) FROM PUBLIC;
