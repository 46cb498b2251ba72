-- Risk on a real ledger (issue #14, item 6): the four factors may be unknown.
--
-- A 12345 hotline ledger has a type, an address, a time and a status, but no conflict
-- intensity, duration or behaviour. Until now the importer filled them with "calm, one
-- person, no duration", so no ledger row could pass the medium threshold. Now a factor the
-- source did not give is NULL (unknown), and an incident with an unknown factor is assessed
-- from what is known instead:
--   * the words of its title and description (持刀, 群体, 讨薪, 跳楼 … data/risk_words.csv)
--     stand for the unknown factor they speak of (持刀: physical confrontation);
--   * reports at the same place (same minor category within `repeat_metres`) or by the same
--     party (same phone) in the last `context_days`: how many (重复诉求), and since when
--     (the span stands for an unknown duration);
--   * the grid's recent history (incidents in the same grid in the last `context_days`).
-- The reasons say which factors were unknown. Incidents whose four factors are known are
-- scored exactly as before (risk_assess_incident of 0004).
--
-- Why a statement trigger and not the row trigger: repeats and the grid's history depend on
-- the other rows, and a ledger arrives as one INSERT in any order; assessed after the
-- statement, set-based, every row sees all the others, whatever path wrote it (import,
-- CLI, Open311, UI), and the rows written later in time at the same place or grid are
-- re-assessed too (an older report imported later makes a later one a repeat).

ALTER TABLE incident
    ALTER COLUMN people_involved DROP NOT NULL,
    ALTER COLUMN duration_days DROP NOT NULL,
    ALTER COLUMN conflict_intensity DROP NOT NULL,
    ALTER COLUMN behaviour_risk DROP NOT NULL;

-- Repeats by the same party (reporter's phone), looked up per incident.
CREATE INDEX incident_phone_idx ON incident (reporter_phone, reported_at) WHERE reporter_phone IS NOT NULL;
-- Only incidents with an unknown factor are re-assessed from their context.
CREATE INDEX incident_unknown_factor_idx ON incident (grid_code, reported_at)
    WHERE people_involved IS NULL OR duration_days IS NULL OR conflict_intensity IS NULL OR behaviour_risk IS NULL;

-- The context part of the `incident` configuration as typed arrays (like 0004's params).
CREATE TYPE risk_context_params AS (
    high numeric, medium numeric, days integer, metres numeric, repeat_min numeric[], repeat_pts numeric[], grid_min numeric[], grid_pts numeric[],
    words text[], word_factor text[], word_value numeric[]
);

CREATE FUNCTION risk_context_params(cfg jsonb) RETURNS risk_context_params
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN cfg ? 'context_days' THEN ROW(
               (cfg->>'unknown_high')::numeric, (cfg->>'unknown_medium')::numeric, (cfg->>'context_days')::integer, (cfg->>'repeat_metres')::numeric,
               ARRAY(SELECT (b->>0)::numeric FROM jsonb_array_elements(cfg->'repeats') b),
               ARRAY(SELECT (b->>1)::numeric FROM jsonb_array_elements(cfg->'repeats') b),
               ARRAY(SELECT (b->>0)::numeric FROM jsonb_array_elements(cfg->'grid_recent') b),
               ARRAY(SELECT (b->>1)::numeric FROM jsonb_array_elements(cfg->'grid_recent') b),
               ARRAY(SELECT w->>0 FROM jsonb_array_elements(COALESCE(cfg->'words', '[]')) w),
               ARRAY(SELECT w->>1 FROM jsonb_array_elements(COALESCE(cfg->'words', '[]')) w),
               ARRAY(SELECT (w->>2)::numeric FROM jsonb_array_elements(COALESCE(cfg->'words', '[]')) w))::public.risk_context_params
           END
$$;

ALTER TABLE risk_config ADD COLUMN context_params risk_context_params
    GENERATED ALWAYS AS (risk_context_params(config->'incident')) STORED;

-- What an incident's context says: earlier related reports (the same minor category within
-- `metres`: the same complaint at the same door, not a neighbour's; or the same reporter
-- phone, whatever the category) with the first one's time, and the grid's incidents,
-- all in the `days` before it. (reported_at, id) orders ties, so two rows never count each other.
CREATE FUNCTION risk_context(p_id bigint, p_geom geometry, p_minor text, p_phone text, p_grid text,
                             p_at timestamptz, days integer, metres numeric)
RETURNS TABLE (repeats integer, first_at timestamptz, grid_recent integer)
LANGUAGE sql STABLE AS $$
    WITH rel AS (
        SELECT o.id, o.reported_at FROM incident o
         WHERE o.geom && ST_Expand(p_geom, metres / 50000.0)   -- 1 degree >= 50 km up to 63 N
           AND ST_DWithin(o.geom::geography, p_geom::geography, metres::float8)
           AND o.minor_code = p_minor AND o.status <> 'cancelled'
           AND o.reported_at >= p_at - make_interval(days => days) AND (o.reported_at, o.id) < (p_at, p_id)
        UNION
        SELECT o.id, o.reported_at FROM incident o
         WHERE NULLIF(p_phone, '') IS NOT NULL AND o.reporter_phone = p_phone AND o.status <> 'cancelled'
           AND o.reported_at >= p_at - make_interval(days => days) AND (o.reported_at, o.id) < (p_at, p_id)
    )
    SELECT (SELECT count(*)::integer FROM rel), (SELECT min(reported_at) FROM rel),
           (SELECT count(*)::integer FROM incident g
             WHERE p_grid IS NOT NULL AND g.grid_code = p_grid AND g.status <> 'cancelled'
               AND g.reported_at >= p_at - make_interval(days => days) AND (g.reported_at, g.id) < (p_at, p_id))
$$;

-- One incident's assessment when some of its four factors are unknown (NULL): the known
-- factors as in 0004, each unknown one inferred from the words or the repeats where they
-- speak of it, plus the repeats and the grid's history; the last reason names the unknown
-- factors; the tier is cut by the thresholds for incomplete records. With all four known
-- it is exactly risk_assess_incident.
CREATE FUNCTION risk_assess_unknown(
    c risk_incident_params, x risk_context_params, severity integer, people integer, duration integer,
    intensity integer, behaviour integer, status text, returns integer, txt text,
    repeats integer, span_days integer, grid_recent integer
) RETURNS risk_assessment LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    base risk_assessment := risk_assess_incident(c, severity, people, duration, intensity, behaviour, status, returns);
    total numeric; reasons text[]; unknown text[] := '{}'; p numeric; wd text; wv numeric; v numeric;
    words text[]; factors text[]; vals numeric[];
    -- the word found with the highest value per factor (the first listed on a tie)
    found_word jsonb := '{}'; found_value jsonb := '{}';
BEGIN
    IF people IS NOT NULL AND duration IS NOT NULL AND intensity IS NOT NULL AND behaviour IS NOT NULL THEN
        RETURN base;
    END IF;
    total := base.score;
    reasons := array_remove(base.reasons, '各项因素均处低位');
    IF x IS NULL THEN   -- a configuration without the context part: unknown factors score nothing
        x := ROW(c.high, c.medium, 0, 0, '{}', '{}', '{}', '{}', '{}', '{}', '{}')::risk_context_params;
    END IF;
    txt := COALESCE(txt, '');
    words := x.words; factors := x.word_factor; vals := x.word_value;
    FOR i IN 1 .. COALESCE(cardinality(words), 0) LOOP
        IF strpos(txt, words[i]) > 0 AND (found_value->>factors[i] IS NULL OR (found_value->>factors[i])::numeric < vals[i]) THEN
            found_word := jsonb_set(found_word, ARRAY[factors[i]], to_jsonb(words[i]));
            found_value := jsonb_set(found_value, ARRAY[factors[i]], to_jsonb(vals[i]));
        END IF;
    END LOOP;
    IF people IS NULL THEN
        unknown := unknown || '涉事人数'::text;
        wd := found_word->>'people'; wv := (found_value->>'people')::numeric;
        p := COALESCE(c.people_pts[width_bucket(wv, c.people_min)], 0);
        IF p > 0 THEN
            total := total + p; reasons := reasons || format('描述含“%s”，推定涉事 %s 人以上（+%s）', wd, wv, p);
        END IF;
    END IF;
    IF duration IS NULL THEN
        unknown := unknown || '持续时间'::text;
        wd := found_word->>'duration'; wv := (found_value->>'duration')::numeric;
        v := GREATEST(COALESCE(wv, 0), COALESCE(span_days, 0));
        p := COALESCE(c.duration_pts[width_bucket(v, c.duration_min)], 0);
        IF p > 0 AND v = COALESCE(span_days, 0) THEN
            total := total + p; reasons := reasons || format('同一地点或当事人首次诉求至今 %s 天（+%s）', v, p);
        ELSIF p > 0 THEN
            total := total + p; reasons := reasons || format('描述含“%s”，推定持续 %s 天以上（+%s）', wd, v, p);
        END IF;
    END IF;
    IF intensity IS NULL THEN
        unknown := unknown || '冲突程度'::text;
        wd := found_word->>'intensity'; wv := (found_value->>'intensity')::numeric;
        p := COALESCE(c.intensity[wv + 1], 0);
        IF p > 0 THEN
            total := total + p;
            reasons := reasons || format('描述含“%s”，推定冲突程度 %s（+%s）', wd, c.intensity_labels[wv + 1], p);
        END IF;
    END IF;
    IF behaviour IS NULL THEN
        unknown := unknown || '当事人思想行为'::text;
        wd := found_word->>'behaviour'; wv := (found_value->>'behaviour')::numeric;
        p := COALESCE(c.behaviour[wv + 1], 0);
        IF p > 0 THEN
            total := total + p;
            reasons := reasons || format('描述含“%s”，推定当事人思想行为 %s（+%s）', wd, c.behaviour_labels[wv + 1], p);
        END IF;
    END IF;
    p := COALESCE(x.repeat_pts[width_bucket(repeats, x.repeat_min)], 0);
    IF p > 0 THEN
        total := total + p; reasons := reasons || format('近%s天同一地点或当事人已有 %s 次诉求（+%s）', x.days, repeats, p);
    END IF;
    p := COALESCE(x.grid_pts[width_bucket(grid_recent, x.grid_min)], 0);
    IF p > 0 THEN
        total := total + p; reasons := reasons || format('所在网格近%s天事件 %s 起（+%s）', x.days, grid_recent, p);
    END IF;
    IF cardinality(reasons) = 0 THEN reasons := ARRAY['已知因素均处低位']; END IF;
    reasons := reasons || format('未知：%s（按类别、描述用语、重复诉求和网格近况评估）', array_to_string(unknown, '、'));
    -- Cut by the thresholds for incomplete records: fewer factors reach fewer points.
    RETURN (total::real, CASE WHEN total >= x.high THEN 'high' WHEN total >= x.medium THEN 'medium' ELSE 'low' END,
            reasons)::risk_assessment;
END $$;

-- Re-assess, set-based, the incidents of `ids` that have an unknown factor (the others keep
-- the tier the row trigger or the importer gave them). Returns the rows changed.
CREATE FUNCTION risk_reassess_unknown(ids bigint[] DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    c risk_incident_params; x risk_context_params; n bigint;
BEGIN
    c := (SELECT incident_params FROM risk_config WHERE id = 1);
    x := (SELECT context_params FROM risk_config WHERE id = 1);
    IF c IS NULL THEN RETURN 0; END IF;
    -- Its own update changes only the risk columns: the statement trigger below skips it.
    PERFORM set_config('quanyu.risk_context_busy', 'on', true);
    UPDATE incident i SET risk_score = (s.a).score, risk_tier = (s.a).tier, risk_reasons = (s.a).reasons
      FROM (SELECT i2.id,
                   risk_assess_unknown(c, x, cat.severity, i2.people_involved, i2.duration_days, i2.conflict_intensity,
                                       i2.behaviour_risk, i2.status, COALESCE(r.n, 0)::integer,
                                       concat_ws(' ', i2.title, i2.description), ctx.repeats,
                                       floor(extract(epoch FROM i2.reported_at - ctx.first_at) / 86400)::integer, ctx.grid_recent) AS a
              FROM incident i2 JOIN category cat ON cat.minor_code = i2.minor_code
              LEFT JOIN LATERAL (SELECT count(*) AS n FROM incident_history h
                                  WHERE h.incident_id = i2.id AND h.to_status = 'returned') r ON true
              CROSS JOIN LATERAL risk_context(i2.id, i2.geom, i2.minor_code, i2.reporter_phone, i2.grid_code, i2.reported_at,
                                              COALESCE(x.days, 0), COALESCE(x.metres, 0)) ctx
             WHERE (ids IS NULL OR i2.id IN (SELECT unnest(ids)))
               AND (i2.people_involved IS NULL OR i2.duration_days IS NULL OR i2.conflict_intensity IS NULL
                    OR i2.behaviour_risk IS NULL)
            OFFSET 0) s   -- assess once per row
     WHERE i.id = s.id
       AND (i.risk_score, i.risk_tier, i.risk_reasons) IS DISTINCT FROM ((s.a).score, (s.a).tier, (s.a).reasons);
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('quanyu.risk_context_busy', 'off', true);
    RETURN n;
END $$;

-- The row trigger of 0004 assesses one row from the rows already there: with an unknown
-- factor, from its context too. Rows written together, or by the bulk path that switches
-- the row trigger off (0019), are put right by the statement triggers below.
CREATE OR REPLACE FUNCTION risk_incident_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.people_involved IS NOT NULL AND NEW.duration_days IS NOT NULL AND NEW.conflict_intensity IS NOT NULL
       AND NEW.behaviour_risk IS NOT NULL THEN
        -- All four factors known: exactly 0004's assessment, no context queries.
        SELECT a.score, a.tier, a.reasons INTO NEW.risk_score, NEW.risk_tier, NEW.risk_reasons
          FROM risk_config r JOIN category c ON c.minor_code = NEW.minor_code
         CROSS JOIN LATERAL risk_assess_incident(r.incident_params, c.severity, NEW.people_involved, NEW.duration_days,
                                                 NEW.conflict_intensity, NEW.behaviour_risk, NEW.status,
                                                 CASE WHEN TG_OP = 'UPDATE' THEN risk_returns(NEW.id) ELSE 0 END) a
         WHERE r.id = 1;   -- no configuration: no row, the tier stays NULL (not assessed)
        RETURN NEW;
    END IF;
    SELECT a.score, a.tier, a.reasons INTO NEW.risk_score, NEW.risk_tier, NEW.risk_reasons
      FROM risk_config r JOIN category c ON c.minor_code = NEW.minor_code
     CROSS JOIN LATERAL risk_context(NEW.id, NEW.geom, NEW.minor_code, NEW.reporter_phone, NEW.grid_code, NEW.reported_at,
                                     COALESCE((r.context_params).days, 0), COALESCE((r.context_params).metres, 0)) ctx
     CROSS JOIN LATERAL risk_assess_unknown(r.incident_params, r.context_params, c.severity, NEW.people_involved,
                                            NEW.duration_days, NEW.conflict_intensity, NEW.behaviour_risk, NEW.status,
                                            CASE WHEN TG_OP = 'UPDATE' THEN risk_returns(NEW.id) ELSE 0 END,
                                            concat_ws(' ', NEW.title, NEW.description), ctx.repeats,
                                            floor(extract(epoch FROM NEW.reported_at - ctx.first_at) / 86400)::integer, ctx.grid_recent) a
     WHERE r.id = 1;
    RETURN NEW;
END $$;

-- Every incident's tier again (after a configuration change); returns the rows changed.
-- Rows with all four factors as in 0004, the others with their context.
CREATE OR REPLACE FUNCTION risk_recompute_incidents() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cfg risk_incident_params := (SELECT incident_params FROM risk_config WHERE id = 1);
    n bigint;
BEGIN
    UPDATE incident i SET risk_score = (s.a).score, risk_tier = (s.a).tier, risk_reasons = (s.a).reasons
      FROM (SELECT i2.id, CASE WHEN cfg IS NULL THEN NULL::risk_assessment ELSE
                   risk_assess_incident(cfg, c.severity, i2.people_involved, i2.duration_days, i2.conflict_intensity,
                                        i2.behaviour_risk, i2.status, COALESCE(r.n, 0)::integer) END AS a
              FROM incident i2 JOIN category c ON c.minor_code = i2.minor_code
              LEFT JOIN (SELECT incident_id, count(*) AS n FROM incident_history
                          WHERE to_status = 'returned' GROUP BY incident_id) r ON r.incident_id = i2.id
             WHERE cfg IS NULL OR (i2.people_involved IS NOT NULL AND i2.duration_days IS NOT NULL
                                   AND i2.conflict_intensity IS NOT NULL AND i2.behaviour_risk IS NOT NULL)
            OFFSET 0) s   -- OFFSET 0: assess once per row, not once per output column
     WHERE i.id = s.id
       AND (i.risk_score, i.risk_tier, i.risk_reasons) IS DISTINCT FROM ((s.a).score, (s.a).tier, (s.a).reasons);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n + risk_reassess_unknown(NULL);
END $$;

-- After a statement wrote incidents: re-assess the written rows with an unknown factor and
-- those later in time (within the context's days) in the same grids or by the same phones,
-- whose repeats and grid history the statement may have changed (not for the update
-- risk_reassess_unknown itself makes, which changes only the risk columns).
CREATE FUNCTION risk_context_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    days integer := (SELECT (context_params).days FROM risk_config WHERE id = 1);
    ids bigint[]; grids text[]; phones text[]; t0 timestamptz; t1 timestamptz;
BEGIN
    IF days IS NULL OR current_setting('quanyu.risk_context_busy', true) = 'on' THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(n.id) FILTER (WHERE n.people_involved IS NULL OR n.duration_days IS NULL
                                          OR n.conflict_intensity IS NULL OR n.behaviour_risk IS NULL),
               array_agg(DISTINCT n.grid_code), array_agg(DISTINCT n.reporter_phone), min(n.reported_at), max(n.reported_at)
          INTO ids, grids, phones, t0, t1 FROM new_rows n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT o.grid_code), array_agg(DISTINCT o.reporter_phone), min(o.reported_at), max(o.reported_at)
          INTO grids, phones, t0, t1 FROM old_rows o;
    ELSE
        -- Old and new rows side by side, never joined (a join of two transition tables, which
        -- have no statistics, can be planned as a nested loop: quadratic on a bulk update).
        SELECT array_agg(v.id) FILTER (WHERE v.unknown), array_agg(DISTINCT v.grid_code), array_agg(DISTINCT v.phone),
               min(v.at), max(v.at)
          INTO ids, grids, phones, t0, t1
          FROM (SELECT n.id, n.grid_code, n.reporter_phone AS phone, n.reported_at AS at,
                       (n.people_involved IS NULL OR n.duration_days IS NULL OR n.conflict_intensity IS NULL
                        OR n.behaviour_risk IS NULL) AS unknown
                  FROM new_rows n
                UNION ALL
                SELECT NULL, o.grid_code, o.reporter_phone, o.reported_at, false FROM old_rows o) v;
    END IF;
    IF t0 IS NULL THEN RETURN NULL; END IF;
    -- (ids: the written rows with an unknown factor; unnest + join, never = ANY of a long array)
    SELECT array_agg(u.id) INTO ids FROM (
        SELECT unnest(ids) AS id
        UNION
        SELECT i.id FROM incident i
         WHERE i.reported_at > t0 AND i.reported_at <= t1 + make_interval(days => days)
           AND (i.grid_code IN (SELECT unnest(grids)) OR i.reporter_phone IN (SELECT unnest(phones)))
           AND (i.people_involved IS NULL OR i.duration_days IS NULL OR i.conflict_intensity IS NULL OR i.behaviour_risk IS NULL)
    ) u;
    IF ids IS NOT NULL THEN
        PERFORM risk_reassess_unknown(ids);
    END IF;
    RETURN NULL;
END $$;
-- Named to run before the grid recompute of 0004 (statement triggers fire by name).
CREATE TRIGGER incident_context_risk_insert AFTER INSERT ON incident REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION risk_context_statement();
CREATE TRIGGER incident_context_risk_update AFTER UPDATE ON incident REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION risk_context_statement();
CREATE TRIGGER incident_context_risk_delete AFTER DELETE ON incident REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION risk_context_statement();
