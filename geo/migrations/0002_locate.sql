-- Spatial derivation of where a point belongs: its current official grid and community.
--
-- Households, places and incidents store grid_code and admin_code for speed (the big
-- screen aggregates by them), but the truth is the geometry: these functions re-derive
-- both, set-based, for a whole table or for the rows inside an area (after a grid edit).
-- A point on the shared edge of two grids, or inside an overlap, goes to the smaller code
-- so that the result is deterministic; coverage analysis reports such points separately.

CREATE FUNCTION locate_points(target regclass, area geometry DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF target NOT IN ('household'::regclass, 'incident'::regclass, 'place'::regclass) THEN
        RAISE EXCEPTION 'locate_points: % has no located points', target;
    END IF;
    -- The polygon side drives each spatial join, so PostGIS prepares every polygon once
    -- and tests all points against it (points driving the join is ten times slower).
    EXECUTE format($q$
        WITH in_grid AS MATERIALIZED (
            SELECT DISTINCT ON (p.id) p.id, g.code, g.admin_code
            FROM grid g JOIN %1$s p ON ST_Intersects(g.geom, p.geom) %2$s
            WHERE g.valid_to IS NULL AND g.layer = 'official'
            ORDER BY p.id, g.code
        ), in_community AS MATERIALIZED (
            SELECT DISTINCT ON (p.id) p.id, a.code
            FROM admin_unit a JOIN %1$s p ON ST_Intersects(a.geom, p.geom) %2$s
            WHERE a.level = 'community' AND NOT EXISTS (SELECT 1 FROM in_grid ig WHERE ig.id = p.id)
            ORDER BY p.id, a.code
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

-- The community a polygon belongs to: the one it overlaps most.
CREATE FUNCTION community_of(g geometry) RETURNS varchar(12)
LANGUAGE sql STABLE AS $$
    SELECT a.code FROM admin_unit a
     WHERE a.level = 'community' AND ST_Intersects(a.geom, g)
     ORDER BY ST_Area(ST_Intersection(a.geom, g)) DESC, a.code
     LIMIT 1
$$;
