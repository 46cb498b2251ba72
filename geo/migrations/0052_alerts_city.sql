-- The alarm rules at city scale, measured on the city bench database (2 million
-- incidents, 20,000 grids): the cluster rule's join with category let the planner fetch
-- each minor category's incidents by the (minor_code, reported_at) index and AND them with
-- the GiST box, 11,000 index entries per category for a handful of neighbours (30-45 ms).
-- The neighbours are now found first (the box, a materialized CTE) and their categories
-- checked after. Every query of the evaluation is planned for its own incident (custom
-- plans): a generic plan, made once for all points, cannot know how small a box is.
CREATE OR REPLACE FUNCTION alert_evaluate_incidents(ids bigint[]) RETURNS integer
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
            members := ARRAY(WITH near AS MATERIALIZED (
                                 SELECT o.id, o.minor_code, o.reported_at
                                   FROM alert_near(r.geom, (rc->>'radius_m')::float8,
                                                   r.reported_at - make_interval(hours => (rc->>'hours')::integer),
                                                   r.reported_at) o
                                  WHERE o.id <> r.id)
                             SELECT n.id FROM near n JOIN category oc ON oc.minor_code = n.minor_code
                              WHERE oc.major_code = r.major_code ORDER BY n.reported_at, n.id);
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

ALTER FUNCTION alert_evaluate_incidents(bigint[]) SET plan_cache_mode = force_custom_plan;
REVOKE ALL ON FUNCTION alert_evaluate_incidents(bigint[]) FROM PUBLIC;
