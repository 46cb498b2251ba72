"""Coverage defects: gaps hatched, slivers outlined, overlaps filled, grids without a
worker dashed, so that each "不留空白盲区" failure jumps out of the risk colours beneath.

The defects come from `coverage_defect`, refreshed here (by geo.coverage.report) whenever the
grids or the administrative units changed since the last analysis.
"""

from layers import LegendItem, MapLayer


def refresh_if_stale(conn) -> None:
    from geo.coverage import report as coverage

    coverage.refresh(conn)
    conn.commit()


LAYER = MapLayer(
    id="coverage",
    label="layer.coverage",
    order=40,
    sql="""SELECT d.geom, d.kind, array_to_string(d.grid_codes, ',') AS grids, round(d.area_m2)::int AS area_m2
             FROM coverage_defect d WHERE d.geom && (SELECT b FROM bbox)
           UNION ALL
           SELECT g.geom, 'no_worker', g.code, 0 FROM grid_current g
            WHERE g.geom && (SELECT b FROM bbox)
              -- OFFSET 0 keeps this a per-grid index probe: under row-level security the
              -- planner underestimates the grids (2 instead of ~560 in a city tile) and, as an
              -- anti-join, rescanned all staff for each (0.96 s per tile -> 15 ms).
              AND NOT EXISTS (SELECT 1 FROM grid_staff s WHERE s.grid_code = g.code AND s.role IN ('fulltime', 'parttime')
                               OFFSET 0)""",
    attributes=("kind", "grids", "area_m2"),
    style=(
        {
            "type": "fill",
            "filter": ["in", ["get", "kind"], ["literal", ["gap", "outside"]]],
            "paint": {"fill-pattern": "hatch", "fill-opacity": 0.95},
        },
        {"type": "fill", "filter": ["==", ["get", "kind"], "overlap"], "paint": {"fill-color": "#ff2bd6", "fill-opacity": 0.6}},
        {
            "type": "line",
            "filter": ["in", ["get", "kind"], ["literal", ["gap", "outside", "overlap"]]],
            "paint": {"line-color": ["match", ["get", "kind"], "overlap", "#ff2bd6", "#ffd60a"], "line-width": 1.8},
        },
        {
            "type": "line",
            "filter": ["in", ["get", "kind"], ["literal", ["sliver", "crossing"]]],
            "paint": {"line-color": "#00f0ff", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 1.5, 14, 3]},
        },
        {
            "type": "line",
            "filter": ["==", ["get", "kind"], "no_worker"],
            "paint": {"line-color": "#ffffff", "line-width": 1.6, "line-dasharray": [2, 1.5]},
        },
    ),
    legend=(
        LegendItem("#ffd60a", "legend.gap", "hatch"),
        LegendItem("#00f0ff", "legend.sliver", "line"),
        LegendItem("#ff2bd6", "legend.overlap"),
        LegendItem("#ffffff", "legend.no_worker", "dashed"),
    ),
    depends_on=("grid", "grid_staff", "admin_unit"),
    simplify=False,
    prepare=refresh_if_stale,
)
