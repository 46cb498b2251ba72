-- Incident counts pre-aggregated by local day, grid, community, category, status bucket,
-- risk tier and handling level (issue #8 规模).
--
-- Why: the big screen's KPIs and panels, the heat layer at low zoom and the grid risk
-- recompute counted raw incidents on every call, so their cost grew with the incident
-- table (2 million rows a year at city scale). They read `incident_daily` instead, whose
-- size grows with grids x days, and only the partial day at the edge of a rolling window
-- (e.g. "since now - 365 days") is read from `incident` through its reported_at index, so
-- every figure stays exact.
--
-- Kept current inside the writer's transaction by statement-level triggers with transition
-- tables: one INSERT ... ON CONFLICT per statement whatever its row count, never work per
-- row. NULL keys are stored as '' (grid_code, risk_tier, level_handled) so that the unique
-- key works on every PostgreSQL version. `m1..m3` are the sums of u, u^2, u^3 where u is
-- the time of day of each incident as a fraction of the day: with them the grid risk's
-- exponential decay 0.5^(age/half_life) of every incident is recovered from its day's row
-- (a Taylor series of 2^(u/half_life) to the cubic term: relative error below 1e-8 for the
-- default 30-day half-life, below 1e-5 down to 5 days).

CREATE TABLE incident_daily (
    day            date        NOT NULL,              -- local (Asia/Shanghai) date of reported_at
    grid_code      varchar(15) NOT NULL DEFAULT '',   -- '' = in no grid
    admin_code     varchar(12) NOT NULL,              -- the incident's community (row-level security key)
    minor_code     varchar(4)  NOT NULL,
    bucket         text        NOT NULL CHECK (bucket IN ('open', 'resolved', 'cancelled')),
    risk_tier      text        NOT NULL DEFAULT '',   -- '' = not assessed
    level_handled  text        NOT NULL DEFAULT '',
    n              integer     NOT NULL,
    m1             double precision NOT NULL DEFAULT 0,
    m2             double precision NOT NULL DEFAULT 0,
    m3             double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled)
);
-- Per-grid reads (heat tiles, the incremental risk path) by grid then day.
CREATE INDEX incident_daily_grid_idx ON incident_daily (grid_code, day) INCLUDE (minor_code, n);

-- The status bucket of the aggregate: resolved (化解: closed, followed_up), cancelled, open.
CREATE FUNCTION incident_bucket(status text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status IN ('closed', 'followed_up') THEN 'resolved'
                WHEN status = 'cancelled' THEN 'cancelled' ELSE 'open' END
$$;

-- Local day of a time, and the time of day as a fraction of that day (the decay moments).
CREATE FUNCTION incident_day(t timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (t AT TIME ZONE 'Asia/Shanghai')::date $$;
CREATE FUNCTION incident_day_fraction(t timestamptz) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT extract(epoch FROM (t AT TIME ZONE 'Asia/Shanghai') - (t AT TIME ZONE 'Asia/Shanghai')::date::timestamp)::double precision / 86400
$$;
-- The first instant of a local day.
CREATE FUNCTION incident_day_start(d date) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT d::timestamp AT TIME ZONE 'Asia/Shanghai' $$;

-- The net change per key of one statement: +1 per new row, -1 per old row. An UPDATE
-- that moves no key (most lifecycle steps change only deadline, notes or closed_at) nets to
-- nothing and writes nothing. Keys are written in a fixed order, so two writers touching
-- the same keys never deadlock; rows whose count falls to zero are removed. Runs as the
-- table's owner so that a scoped web role may write incidents without writing aggregates.
CREATE FUNCTION incident_daily_statement() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    days date[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM incident_daily;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO incident_daily AS d (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled, n, m1, m2, m3)
        SELECT incident_day(r.reported_at), COALESCE(r.grid_code, ''), r.admin_code, r.minor_code,
               incident_bucket(r.status), COALESCE(r.risk_tier, ''), COALESCE(r.level_handled, ''),
               count(*), sum(f.u), sum(f.u * f.u), sum(f.u * f.u * f.u)
          FROM new_rows r CROSS JOIN LATERAL (SELECT incident_day_fraction(r.reported_at) AS u) f
         GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled) DO UPDATE
           SET n = d.n + EXCLUDED.n, m1 = d.m1 + EXCLUDED.m1, m2 = d.m2 + EXCLUDED.m2, m3 = d.m3 + EXCLUDED.m3;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        days := ARRAY(SELECT DISTINCT incident_day(reported_at) FROM old_rows);
        INSERT INTO incident_daily AS d (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled, n, m1, m2, m3)
        SELECT incident_day(r.reported_at), COALESCE(r.grid_code, ''), r.admin_code, r.minor_code,
               incident_bucket(r.status), COALESCE(r.risk_tier, ''), COALESCE(r.level_handled, ''),
               -count(*), -sum(f.u), -sum(f.u * f.u), -sum(f.u * f.u * f.u)
          FROM old_rows r CROSS JOIN LATERAL (SELECT incident_day_fraction(r.reported_at) AS u) f
         GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled) DO UPDATE
           SET n = d.n + EXCLUDED.n, m1 = d.m1 + EXCLUDED.m1, m2 = d.m2 + EXCLUDED.m2, m3 = d.m3 + EXCLUDED.m3;
    ELSE
        days := ARRAY(SELECT DISTINCT incident_day(o.reported_at) FROM old_rows o JOIN new_rows nw ON nw.id = o.id
                       WHERE (o.reported_at, o.grid_code, o.admin_code, o.minor_code, incident_bucket(o.status), o.risk_tier, o.level_handled)
                             IS DISTINCT FROM
                             (nw.reported_at, nw.grid_code, nw.admin_code, nw.minor_code, incident_bucket(nw.status), nw.risk_tier, nw.level_handled));
        IF cardinality(days) = 0 THEN
            RETURN NULL;
        END IF;
        INSERT INTO incident_daily AS d (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled, n, m1, m2, m3)
        SELECT incident_day(v.reported_at), COALESCE(v.grid_code, ''), v.admin_code, v.minor_code,
               incident_bucket(v.status), COALESCE(v.risk_tier, ''), COALESCE(v.level_handled, ''),
               sum(v.sign), sum(v.sign * f.u), sum(v.sign * f.u * f.u), sum(v.sign * f.u * f.u * f.u)
          FROM (SELECT s.* FROM old_rows o JOIN new_rows nw ON nw.id = o.id
                CROSS JOIN LATERAL (VALUES (-1, o.reported_at, o.grid_code, o.admin_code, o.minor_code, o.status, o.risk_tier, o.level_handled),
                                           (1, nw.reported_at, nw.grid_code, nw.admin_code, nw.minor_code, nw.status, nw.risk_tier, nw.level_handled))
                     s (sign, reported_at, grid_code, admin_code, minor_code, status, risk_tier, level_handled)
                WHERE (o.reported_at, o.grid_code, o.admin_code, o.minor_code, incident_bucket(o.status), o.risk_tier, o.level_handled)
                      IS DISTINCT FROM
                      (nw.reported_at, nw.grid_code, nw.admin_code, nw.minor_code, incident_bucket(nw.status), nw.risk_tier, nw.level_handled)) v
         CROSS JOIN LATERAL (SELECT incident_day_fraction(v.reported_at) AS u) f
         GROUP BY 1, 2, 3, 4, 5, 6, 7
        HAVING sum(v.sign) <> 0 OR sum(v.sign * f.u) <> 0
         ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled) DO UPDATE
           SET n = d.n + EXCLUDED.n, m1 = d.m1 + EXCLUDED.m1, m2 = d.m2 + EXCLUDED.m2, m3 = d.m3 + EXCLUDED.m3;
    END IF;
    DELETE FROM incident_daily WHERE day = ANY(days) AND n = 0;
    RETURN NULL;
END $$;

-- Named so that they fire before incident_grid_risk_* (AFTER triggers run in name order):
-- the grid risk recompute of the same statement reads the aggregate already updated.
CREATE TRIGGER incident_daily_insert AFTER INSERT ON incident REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_daily_statement();
CREATE TRIGGER incident_daily_update AFTER UPDATE ON incident REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_daily_statement();
CREATE TRIGGER incident_daily_delete AFTER DELETE ON incident REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION incident_daily_statement();
CREATE TRIGGER incident_daily_truncate AFTER TRUNCATE ON incident
    FOR EACH STATEMENT EXECUTE FUNCTION incident_daily_statement();

-- Backfill from the incidents already stored.
INSERT INTO incident_daily (day, grid_code, admin_code, minor_code, bucket, risk_tier, level_handled, n, m1, m2, m3)
SELECT incident_day(i.reported_at), COALESCE(i.grid_code, ''), i.admin_code, i.minor_code, incident_bucket(i.status),
       COALESCE(i.risk_tier, ''), COALESCE(i.level_handled, ''), count(*), sum(f.u), sum(f.u * f.u), sum(f.u * f.u * f.u)
  FROM incident i CROSS JOIN LATERAL (SELECT incident_day_fraction(i.reported_at) AS u) f
 GROUP BY 1, 2, 3, 4, 5, 6, 7;
ANALYZE incident_daily;

-- Counts of incidents reported at or after `since` (an arbitrary instant), in the
-- aggregate's shape: whole local days from incident_daily, the partial first day from
-- incident itself (its reported_at index), so a rolling window is exact to the second.
-- A plain SQL function so that the planner inlines it and pushes the caller's filters down.
CREATE FUNCTION incident_counts_since(since timestamptz)
RETURNS TABLE (day date, grid_code varchar(15), admin_code varchar(12), minor_code varchar(4), bucket text,
               risk_tier text, level_handled text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT d.day, d.grid_code, d.admin_code, d.minor_code, d.bucket, d.risk_tier, d.level_handled, d.n::bigint
      FROM incident_daily d WHERE d.day > incident_day(since)
    UNION ALL
    SELECT incident_day(i.reported_at), COALESCE(i.grid_code, '')::varchar(15), i.admin_code, i.minor_code,
           incident_bucket(i.status), COALESCE(i.risk_tier, ''), COALESCE(i.level_handled, ''), 1::bigint
      FROM incident i
     WHERE i.reported_at >= since AND i.reported_at < incident_day_start(incident_day(since) + 1)
$$;

-- Grid scores read the per-grid incident counts from incident_daily: whole days inside the
-- window from the aggregate (decay from the day's moments), the two partial edge days
-- from incident. Same factors, texts and rounding as 0004; the configuration's scalars are
-- read once per call instead of once per incident row.
CREATE OR REPLACE FUNCTION risk_grid_scores(cfg jsonb, as_of timestamptz, codes text[] DEFAULT NULL)
RETURNS TABLE (grid_code varchar(15), score real, factors jsonb, reasons text[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    hl double precision := (cfg->>'half_life_days')::double precision;
    w_high double precision := COALESCE((cfg->'tier_weight'->>'high')::double precision, 0);
    w_medium double precision := COALESCE((cfg->'tier_weight'->>'medium')::double precision, 0);
    w_low double precision := COALESCE((cfg->'tier_weight'->>'low')::double precision, 0);
    since timestamptz := as_of - make_interval(days => (cfg->>'window_days')::integer);
BEGIN
    RETURN QUERY EXECUTE format($q$
    WITH g AS (
        SELECT code, ST_Area(geom::geography)::numeric / 1e6 AS km2 FROM grid_current WHERE true %2$s
    ), r0 AS (
        -- whole local days strictly between the window's edges
        SELECT d.grid_code, d.risk_tier AS tier, d.n::double precision AS n,
               power(0.5, extract(epoch FROM $2 - incident_day_start(d.day))::double precision / 86400 / $4)
               * (d.n + $8 * d.m1 + $8 * $8 / 2 * d.m2 + $8 * $8 * $8 / 6 * d.m3) AS decayed
          FROM incident_daily d
         WHERE d.day > incident_day($9) AND d.day < incident_day($2)
           AND d.bucket <> 'cancelled' AND d.grid_code <> '' %3$s
        UNION ALL
        -- the partial first and last days, row by row
        SELECT i.grid_code, COALESCE(i.risk_tier, ''), 1,
               power(0.5, extract(epoch FROM $2 - i.reported_at)::double precision / 86400 / $4)
          FROM incident i
         WHERE i.reported_at > $9 AND i.reported_at <= $2
           AND (i.reported_at < incident_day_start(incident_day($9) + 1) OR i.reported_at >= incident_day_start(incident_day($2)))
           AND i.status <> 'cancelled' AND i.grid_code IS NOT NULL %1$s
    ), inc AS (
        SELECT r.grid_code,
               sum(r.decayed * CASE r.tier WHEN 'high' THEN $5 WHEN 'medium' THEN $6 WHEN 'low' THEN $7 ELSE 0 END)::numeric AS w,
               sum(r.n) FILTER (WHERE r.tier = 'high') AS nh,
               sum(r.n) FILTER (WHERE r.tier = 'medium') AS nm,
               sum(r.n) FILTER (WHERE r.tier = 'low') AS nl
          FROM r0 r GROUP BY r.grid_code
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
         CASE WHEN codes IS NULL THEN '' ELSE 'AND code IN (SELECT unnest($3))' END,
         CASE WHEN codes IS NULL THEN '' ELSE 'AND d.grid_code IN (SELECT unnest($3))' END)
    USING cfg, as_of, codes, hl, w_high, w_medium, w_low, ln(2::double precision) / hl, since;
END $$;
