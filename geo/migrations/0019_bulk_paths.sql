-- Bulk paths at city scale (issue #8 规模).
--
-- 1. The incident row trigger (risk tier, 0004) can be switched off for one transaction
--    with SET LOCAL quanyu.risk_bulk = 'on' by a writer that scores its rows itself,
--    set-based, with the same risk_assess_incident() (geo.importer does, in the INSERT
--    itself): a per-row trigger call costs more than the whole row's write. The WHEN clause
--    is evaluated without calling the function, so the switched-off path costs nothing.
DROP TRIGGER incident_risk ON incident;
CREATE TRIGGER incident_risk BEFORE INSERT OR UPDATE OF people_involved, duration_days, conflict_intensity,
    behaviour_risk, status, minor_code ON incident
    FOR EACH ROW WHEN (current_setting('quanyu.risk_bulk', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION risk_incident_row();

-- 2. locate_points: the polygon side is fenced (LATERAL ... OFFSET 0) so that each grid is
--    prepared once and drives an index scan of the points inside it, whatever the planner
--    estimates. The plain join of 0002 flipped at city scale (500k points, 20,000 grids)
--    to one index probe per point without prepared polygons: 8.2 s against 1.1 s fenced.
--    Points in no grid (few) then find their community point by point, after one anti-join
--    against in_grid (fencing that side too would rebuild the anti-join per community).
CREATE OR REPLACE FUNCTION locate_points(target regclass, area geometry DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF target NOT IN ('household'::regclass, 'incident'::regclass, 'place'::regclass) THEN
        RAISE EXCEPTION 'locate_points: % has no located points', target;
    END IF;
    EXECUTE format($q$
        WITH in_grid AS MATERIALIZED (
            SELECT DISTINCT ON (p.id) p.id, g.code, g.admin_code
              FROM grid g CROSS JOIN LATERAL (
                   SELECT p.id FROM %1$s p WHERE ST_Intersects(g.geom, p.geom) %2$s OFFSET 0) p
             WHERE g.valid_to IS NULL AND g.layer = 'official'
             ORDER BY p.id, g.code
        ), in_community AS MATERIALIZED (
            -- only the few points in no grid look up their community, point by point
            SELECT p.id, c.code
              FROM %1$s p CROSS JOIN LATERAL (
                   SELECT a.code FROM admin_unit a WHERE a.level = 'community' AND ST_Intersects(a.geom, p.geom)
                    ORDER BY a.code LIMIT 1) c
             WHERE NOT EXISTS (SELECT 1 FROM in_grid ig WHERE ig.id = p.id) %2$s
        )
        UPDATE %1$s t
           SET grid_code = ig.code, admin_code = COALESCE(ig.admin_code, ic.code, t.admin_code)
          FROM %1$s p
          LEFT JOIN in_grid ig ON ig.id = p.id
          LEFT JOIN in_community ic ON ic.id = p.id
         WHERE t.id = p.id %3$s
           AND (t.grid_code IS DISTINCT FROM ig.code
                OR t.admin_code IS DISTINCT FROM COALESCE(ig.admin_code, ic.code, t.admin_code))
    $q$, target,
       CASE WHEN area IS NULL THEN '' ELSE 'AND ST_Intersects(p.geom, $1)' END,
       CASE WHEN area IS NULL THEN '' ELSE 'AND ST_Intersects(p.geom, $1)' END) USING area;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
