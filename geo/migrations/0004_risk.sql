-- Risk tiers (风险分级 高/中/低) for incidents and grids, scored in SQL.
--
-- Why in SQL: incidents arrive from imports, Open311, the CLI and the UI; a trigger gives
-- every one of them a tier and its reasons without any Python in the path. The weights
-- and thresholds live in `risk_config` (loaded from data/risk.toml by
-- `python -m geo risk config --load`); without a loaded configuration tiers stay NULL
-- ("not assessed") rather than guessing.
--
-- The model is additive points by bands, so that every tier explains itself: each reason
-- is one factor in plain Chinese with its points ("涉事 35 人（+20）").

CREATE TABLE risk_config (
    id         smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),   -- one active configuration
    config     jsonb       NOT NULL CHECK (config ? 'incident' AND config ? 'grid'),
    source     text,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE incident
    ADD COLUMN risk_score   real,
    ADD COLUMN risk_tier    text CHECK (risk_tier IN ('high', 'medium', 'low')),
    ADD COLUMN risk_reasons text[];
CREATE INDEX incident_risk_tier_idx ON incident (risk_tier, reported_at);
-- The key list and the grid's key-list factor read unresolved high-tier incidents only.
CREATE INDEX incident_key_list_idx ON incident (grid_code)
    WHERE risk_tier = 'high' AND closed_at IS NULL AND status NOT IN ('closed', 'followed_up', 'cancelled');

-- The `incident` part of the configuration as typed arrays, parsed once per load (a
-- stored generated column of risk_config), so that the row trigger never parses JSON.
CREATE TYPE risk_incident_params AS (
    high numeric, medium numeric, people_min numeric[], people_pts numeric[], duration_min numeric[],
    duration_pts numeric[], intensity numeric[], intensity_labels text[], behaviour numeric[], behaviour_labels text[],
    severity numeric[], escalated numeric, returned numeric, per_return numeric, max_returns integer
);

CREATE FUNCTION risk_incident_params(cfg jsonb) RETURNS risk_incident_params
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ROW((cfg->>'high')::numeric, (cfg->>'medium')::numeric,
               ARRAY(SELECT (b->>0)::numeric FROM jsonb_array_elements(cfg->'people') b),
               ARRAY(SELECT (b->>1)::numeric FROM jsonb_array_elements(cfg->'people') b),
               ARRAY(SELECT (b->>0)::numeric FROM jsonb_array_elements(cfg->'duration') b),
               ARRAY(SELECT (b->>1)::numeric FROM jsonb_array_elements(cfg->'duration') b),
               ARRAY(SELECT v::numeric FROM jsonb_array_elements_text(cfg->'intensity') v),
               ARRAY(SELECT v FROM jsonb_array_elements_text(cfg->'intensity_labels') v),
               ARRAY(SELECT v::numeric FROM jsonb_array_elements_text(cfg->'behaviour') v),
               ARRAY(SELECT v FROM jsonb_array_elements_text(cfg->'behaviour_labels') v),
               ARRAY(SELECT v::numeric FROM jsonb_array_elements_text(cfg->'severity') v),
               (cfg->>'escalated')::numeric, (cfg->>'returned')::numeric, (cfg->>'per_return')::numeric,
               (cfg->>'max_returns')::integer)::risk_incident_params
$$;

ALTER TABLE risk_config ADD COLUMN incident_params risk_incident_params
    GENERATED ALWAYS AS (risk_incident_params(config->'incident')) STORED;

CREATE TYPE risk_assessment AS (score real, tier text, reasons text[]);

-- One incident's score, tier and reasons. Immutable (everything it needs comes in as
-- arguments), so bulk paths call it set-based and the row trigger stays cheap.
CREATE FUNCTION risk_assess_incident(
    c risk_incident_params, severity integer, people integer, duration integer, intensity integer,
    behaviour integer, status text, returns integer
) RETURNS risk_assessment LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    p numeric; total numeric := 0; reasons text[] := '{}';
    n_ret integer := LEAST(COALESCE(returns, 0), c.max_returns);
BEGIN
    p := COALESCE(c.people_pts[width_bucket(people, c.people_min)], 0);   -- last band reached
    IF p > 0 THEN total := total + p; reasons := reasons || format('涉事 %s 人（+%s）', people, p); END IF;
    p := COALESCE(c.duration_pts[width_bucket(duration, c.duration_min)], 0);
    IF p > 0 THEN total := total + p; reasons := reasons || format('持续 %s 天（+%s）', duration, p); END IF;
    p := c.intensity[intensity + 1];
    IF p > 0 THEN total := total + p; reasons := reasons || format('冲突程度 %s（+%s）', c.intensity_labels[intensity + 1], p); END IF;
    p := c.behaviour[behaviour + 1];
    IF p > 0 THEN total := total + p; reasons := reasons || format('当事人思想行为 %s（+%s）', c.behaviour_labels[behaviour + 1], p); END IF;
    p := c.severity[severity];
    IF p > 0 THEN total := total + p; reasons := reasons || format('类别严重程度 %s 级（+%s）', severity, p); END IF;
    IF status = 'escalated' THEN
        p := c.escalated; total := total + p; reasons := reasons || format('已升级上报（+%s）', p);
    ELSIF status = 'returned' THEN
        p := c.returned; total := total + p; reasons := reasons || format('处置被退回（+%s）', p);
    END IF;
    IF n_ret > 1 THEN
        p := c.per_return * n_ret; total := total + p;
        reasons := reasons || format('%s 次调解未果（+%s）', n_ret, p);
    END IF;
    IF cardinality(reasons) = 0 THEN reasons := ARRAY['各项因素均处低位']; END IF;
    RETURN (total::real, CASE WHEN total >= c.high THEN 'high' WHEN total >= c.medium THEN 'medium' ELSE 'low' END,
            reasons)::risk_assessment;
END $$;

-- Returns recorded for an incident (failed mediation / rejected handling).
CREATE FUNCTION risk_returns(incident_id bigint) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT count(*)::integer FROM incident_history h WHERE h.incident_id = $1 AND h.to_status = 'returned'
$$;

CREATE FUNCTION risk_incident_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One query per row: configuration, the category's severity and the assessment.
    SELECT a.score, a.tier, a.reasons INTO NEW.risk_score, NEW.risk_tier, NEW.risk_reasons
      FROM risk_config r JOIN category c ON c.minor_code = NEW.minor_code
     CROSS JOIN LATERAL risk_assess_incident(r.incident_params, c.severity, NEW.people_involved, NEW.duration_days,
                                             NEW.conflict_intensity, NEW.behaviour_risk, NEW.status,
                                             CASE WHEN TG_OP = 'UPDATE' THEN risk_returns(NEW.id) ELSE 0 END) a
     WHERE r.id = 1;   -- no configuration: no row, the tier stays NULL (not assessed)
    RETURN NEW;
END $$;
CREATE TRIGGER incident_risk BEFORE INSERT OR UPDATE OF people_involved, duration_days, conflict_intensity,
    behaviour_risk, status, minor_code ON incident FOR EACH ROW EXECUTE FUNCTION risk_incident_row();

-- Every incident's tier again (after a configuration change); returns the rows changed.
CREATE FUNCTION risk_recompute_incidents() RETURNS bigint LANGUAGE plpgsql AS $$
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
            OFFSET 0) s   -- OFFSET 0: assess once per row, not once per output column
     WHERE i.id = s.id
       AND (i.risk_score, i.risk_tier, i.risk_reasons) IS DISTINCT FROM ((s.a).score, (s.a).tier, (s.a).reasons);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Grid tiers: one row per grid code with its factors (value, points, label, text) so that
-- every grid can say why it has its tier.
CREATE TABLE grid_risk (
    grid_code    varchar(15) PRIMARY KEY,
    score        real        NOT NULL,
    tier         text        CHECK (tier IN ('high', 'medium', 'low')),
    factors      jsonb       NOT NULL,
    reasons      text[]      NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    as_of        timestamptz NOT NULL
);

-- A factor's entry: its value, points (capped), Chinese label and plain text.
CREATE FUNCTION risk_factor(label text, value numeric, points numeric, cap numeric, text text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object('label', label, 'value', round(value, 2),
                              'points', round(LEAST(points, COALESCE(cap, points)), 1), 'text', text)
$$;

-- Scores and factors of the current official grids (all, or those in `codes`) as of a time.
-- Dynamic SQL so that the incremental path is planned for its few codes (index scans) and
-- the full path for all of them (hash aggregates), never a generic plan that fits neither.
CREATE FUNCTION risk_grid_scores(cfg jsonb, as_of timestamptz, codes text[] DEFAULT NULL)
RETURNS TABLE (grid_code varchar(15), score real, factors jsonb, reasons text[])
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
    WITH g AS (
        SELECT code, ST_Area(geom::geography)::numeric / 1e6 AS km2 FROM grid_current WHERE true %2$s
    ), inc AS (
        SELECT i.grid_code,
               sum(COALESCE(($1->'tier_weight'->>i.risk_tier)::numeric, 0)
                   * power(0.5, extract(epoch FROM $2 - i.reported_at) / 86400 / ($1->>'half_life_days')::numeric)) AS w,
               count(*) FILTER (WHERE i.risk_tier = 'high') AS nh,
               count(*) FILTER (WHERE i.risk_tier = 'medium') AS nm,
               count(*) FILTER (WHERE i.risk_tier = 'low') AS nl
          FROM incident i
         WHERE i.reported_at > $2 - make_interval(days => ($1->>'window_days')::integer) AND i.reported_at <= $2
           AND i.status <> 'cancelled' AND i.grid_code IS NOT NULL %1$s
         GROUP BY i.grid_code
    ), kl AS (
        SELECT i.grid_code, count(*) AS n FROM incident i
         WHERE i.risk_tier = 'high' AND i.closed_at IS NULL AND i.status NOT IN ('closed', 'followed_up', 'cancelled')
           AND i.reported_at <= $2 AND i.grid_code IS NOT NULL %1$s
         GROUP BY i.grid_code
    ), pl AS (
        SELECT p.grid_code,
               sum(COALESCE(($1->'key_person_weight'->>p.tier::text)::numeric, 0)) FILTER (WHERE p.kind = 'key_person') AS kp_w,
               count(*) FILTER (WHERE p.kind = 'key_person') AS kp_n,
               count(*) FILTER (WHERE p.kind = 'key_person' AND p.tier = 1) AS kp_1,
               count(*) FILTER (WHERE p.kind = 'dangerous_thing') AS dt_n,
               count(*) FILTER (WHERE p.kind = 'sensitive_place') AS sp_n
          FROM place p WHERE p.kind <> 'service_center' AND p.grid_code IS NOT NULL %1$s
         GROUP BY p.grid_code
    ), hh AS (
        SELECT h.grid_code, count(*) AS n FROM household h WHERE h.grid_code IS NOT NULL %1$s GROUP BY h.grid_code
    ), f AS (
        SELECT g.code,
               risk_factor('近期事件', COALESCE(inc.w, 0), COALESCE(inc.w, 0) * ($1->>'incident_points')::numeric,
                           ($1->>'incident_cap')::numeric,
                           format('近%%s天事件 高%%s/中%%s/低%%s 起，衰减加权 %%s', $1->>'window_days',
                                  COALESCE(inc.nh, 0), COALESCE(inc.nm, 0), COALESCE(inc.nl, 0), round(COALESCE(inc.w, 0), 1))) AS incidents,
               risk_factor('重点清单', COALESCE(kl.n, 0), COALESCE(kl.n, 0) * ($1->>'key_list_points')::numeric,
                           ($1->>'key_list_cap')::numeric, format('未化解高风险事项 %%s 件', COALESCE(kl.n, 0))) AS key_list,
               risk_factor('重点人员', COALESCE(pl.kp_w, 0), COALESCE(pl.kp_w, 0) * ($1->>'key_person_points')::numeric,
                           ($1->>'key_person_cap')::numeric,
                           format('重点人员 %%s 人（一级管控 %%s 人）', COALESCE(pl.kp_n, 0), COALESCE(pl.kp_1, 0))) AS key_persons,
               risk_factor('危险物品', COALESCE(pl.dt_n, 0), COALESCE(pl.dt_n, 0) * ($1->>'dangerous_points')::numeric,
                           ($1->>'dangerous_cap')::numeric, format('危险物品场所 %%s 处', COALESCE(pl.dt_n, 0))) AS dangerous,
               risk_factor('敏感场所', COALESCE(pl.sp_n, 0), COALESCE(pl.sp_n, 0) * ($1->>'sensitive_points')::numeric,
                           ($1->>'sensitive_cap')::numeric, format('敏感场所 %%s 处', COALESCE(pl.sp_n, 0))) AS sensitive,
               risk_factor('住户密度', COALESCE(hh.n, 0) / NULLIF(g.km2, 0),
                           COALESCE((ARRAY(SELECT (b->>1)::numeric FROM jsonb_array_elements($1->'density') b))[width_bucket(COALESCE(hh.n, 0) / NULLIF(g.km2, 0), ARRAY(SELECT (b->>0)::numeric FROM jsonb_array_elements($1->'density') b))], 0), NULL,
                           format('住户 %%s 户，%%s 户/平方公里', COALESCE(hh.n, 0), round(COALESCE(hh.n, 0) / NULLIF(g.km2, 0)))) AS density
          FROM g
          LEFT JOIN inc ON inc.grid_code = g.code LEFT JOIN kl ON kl.grid_code = g.code
          LEFT JOIN pl ON pl.grid_code = g.code LEFT JOIN hh ON hh.grid_code = g.code
    )
    SELECT f.code::varchar(15), s.total::real, s.factors,
           COALESCE(NULLIF(ARRAY(SELECT e.value->>'text' || format('（+%%s）', e.value->>'points')
                                   FROM jsonb_each(s.factors) e
                                  WHERE (e.value->>'points')::numeric > 0
                                  ORDER BY (e.value->>'points')::numeric DESC, e.key), '{}'), ARRAY['无明显风险因素'])
      FROM f CROSS JOIN LATERAL (
          SELECT jsonb_build_object('incidents', f.incidents, 'key_list', f.key_list, 'key_persons', f.key_persons,
                                    'dangerous', f.dangerous, 'sensitive', f.sensitive, 'density', f.density) AS factors,
                 (f.incidents->>'points')::numeric + (f.key_list->>'points')::numeric + (f.key_persons->>'points')::numeric
                 + (f.dangerous->>'points')::numeric + (f.sensitive->>'points')::numeric + (f.density->>'points')::numeric AS total
      ) s
    $q$, CASE WHEN codes IS NULL THEN '' ELSE 'AND grid_code IN (SELECT unnest($3))' END,
         CASE WHEN codes IS NULL THEN '' ELSE 'AND code IN (SELECT unnest($3))' END) USING cfg, as_of, codes;
END $$;

-- Recompute grid tiers: all grids (codes NULL; rows of grids that no longer exist go) or
-- only `codes` (the incremental path after incidents change). Returns the rows written.
CREATE FUNCTION risk_recompute_grids(codes text[] DEFAULT NULL, as_of timestamptz DEFAULT now())
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cfg jsonb := (SELECT config->'grid' FROM risk_config WHERE id = 1);
    hi numeric; med numeric; n bigint;
BEGIN
    IF cfg IS NULL THEN RETURN 0; END IF;
    IF codes IS NULL THEN
        DELETE FROM grid_risk r WHERE NOT EXISTS (SELECT 1 FROM grid_current g WHERE g.code = r.grid_code);
    END IF;
    INSERT INTO grid_risk AS r (grid_code, score, factors, reasons, computed_at, as_of)
    SELECT s.grid_code, s.score, s.factors, s.reasons, now(), risk_recompute_grids.as_of
      FROM risk_grid_scores(cfg, risk_recompute_grids.as_of, codes) s
    ON CONFLICT (grid_code) DO UPDATE SET score = EXCLUDED.score, factors = EXCLUDED.factors, reasons = EXCLUDED.reasons,
        computed_at = EXCLUDED.computed_at, as_of = EXCLUDED.as_of;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF cfg->>'mode' = 'quantile' THEN
        SELECT percentile_disc(1 - (cfg->>'high_share')::numeric) WITHIN GROUP (ORDER BY score),
               percentile_disc(1 - (cfg->>'high_share')::numeric - (cfg->>'medium_share')::numeric) WITHIN GROUP (ORDER BY score)
          INTO hi, med FROM grid_risk;
        hi := GREATEST(hi, 1e-6); med := GREATEST(med, 1e-6);   -- a grid without any risk is never high
    ELSE
        hi := (cfg->>'high')::numeric; med := (cfg->>'medium')::numeric;
    END IF;
    UPDATE grid_risk r SET tier = t.tier
      FROM (SELECT grid_code, CASE WHEN score >= hi THEN 'high' WHEN score >= med THEN 'medium' ELSE 'low' END AS tier
              FROM grid_risk WHERE codes IS NULL OR cfg->>'mode' = 'quantile' OR grid_code = ANY(codes)) t
     WHERE r.grid_code = t.grid_code AND r.tier IS DISTINCT FROM t.tier;
    RETURN n;
END $$;

-- Incremental path: after incidents change, recompute only the grids they touch. Bulk
-- writers that recompute everything afterwards may skip it with
-- SET LOCAL quanyu.risk_defer = 'on'.
CREATE FUNCTION risk_incident_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    codes text[];
BEGIN
    IF current_setting('quanyu.risk_defer', true) = 'on' OR NOT EXISTS (SELECT 1 FROM risk_config) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        codes := ARRAY(SELECT DISTINCT grid_code FROM new_rows WHERE grid_code IS NOT NULL);
    ELSIF TG_OP = 'DELETE' THEN
        codes := ARRAY(SELECT DISTINCT grid_code FROM old_rows WHERE grid_code IS NOT NULL);
    ELSE
        codes := ARRAY(SELECT DISTINCT c FROM old_rows o JOIN new_rows n ON n.id = o.id
                        CROSS JOIN LATERAL (VALUES (o.grid_code), (n.grid_code)) v (c)
                        WHERE c IS NOT NULL
                          AND (o.grid_code, o.risk_tier, o.status, o.reported_at, o.closed_at)
                              IS DISTINCT FROM (n.grid_code, n.risk_tier, n.status, n.reported_at, n.closed_at));
    END IF;
    IF cardinality(codes) > 0 THEN
        PERFORM risk_recompute_grids(codes);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER incident_grid_risk_insert AFTER INSERT ON incident REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION risk_incident_statement();
CREATE TRIGGER incident_grid_risk_update AFTER UPDATE ON incident REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION risk_incident_statement();
CREATE TRIGGER incident_grid_risk_delete AFTER DELETE ON incident REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION risk_incident_statement();

-- The tier of every current official grid (NULL tier: not computed yet).
CREATE VIEW grid_risk_current AS
    SELECT g.code AS grid_code, g.name AS grid_name, g.admin_code, left(g.admin_code, 9) AS town_code,
           r.score, r.tier, r.factors, r.reasons, r.computed_at, r.as_of
      FROM grid_current g LEFT JOIN grid_risk r ON r.grid_code = g.code;

-- 重点清单: unresolved high-tier incidents, owned by the responsible department under the
-- 综治中心's supervision until closed.
CREATE VIEW key_list AS
    SELECT i.id, i.title, c.minor_name AS category, i.grid_code, i.admin_code, left(i.admin_code, 9) AS town_code,
           t.name AS town_name, COALESCE(NULLIF(c.department, ''), '综治中心') AS owner, i.status, i.reported_at,
           i.deadline, ((now() AT TIME ZONE 'Asia/Shanghai')::date - (i.reported_at AT TIME ZONE 'Asia/Shanghai')::date) AS days_open,
           (i.deadline IS NOT NULL AND i.deadline < now()) AS overdue, i.risk_score, i.risk_reasons, i.address
      FROM incident i
      JOIN category c ON c.minor_code = i.minor_code
      LEFT JOIN admin_unit t ON t.code = left(i.admin_code, 9)
     WHERE i.risk_tier = 'high' AND i.closed_at IS NULL AND i.status NOT IN ('closed', 'followed_up', 'cancelled');
