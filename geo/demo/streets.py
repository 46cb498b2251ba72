"""The demo's reference layers: streets along its urban grid lines, and place names.

The demo's urban grids are cut by straight lines through each community (generator.bisect);
real grids follow streets, so the demo's streets are those lines and the community edges,
named from a list of Pingliang-like street names: the edges of the three 街道 as ring roads
(rank 1, seen from a county-wide zoom), the communities' edges as main roads, the rest lanes.
The towns' and communities' names are its place names. All of it is synthetic, like the rest
inside the real district outline, and drawn by the basemap layer (layers/basemap.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

RING = ["崆峒大道", "312国道", "环城路"]
MAIN = [
    "崆峒大道",
    "西大街",
    "东大街",
    "中山街",
    "解放路",
    "新民路",
    "宝塔梁路",
    "柳湖路",
    "紫金路",
    "广成路",
    "和平路",
    "利民路",
]
MINOR = ["文化巷", "东关巷", "太统巷", "民主巷", "建设巷", "纸坊巷", "南关巷", "北园巷", "西郊巷", "育才巷", "红旗巷", "步行街"]
MIN_SEGMENT_M = 40.0  # shorter stubs (rounding where cuts meet) are no street


def streets(rng, communities: list[dict], urban_grid_geoms: list, town_rows: list[dict], district: dict) -> pd.DataFrame:
    """Rows (kind, name, class, rank, geom in the generator's metric frame) of the demo's basemap."""
    urban = [c for c in communities if c["urban"]]
    streets_ = [t for t in town_rows if t["urban"]]
    ring = shapely.union_all([t["geom"].boundary for t in streets_])  # between and around the 街道: the city's ring roads
    edges = shapely.difference(shapely.union_all([c["geom"].boundary for c in urban]), ring.buffer(1.0))
    inner = shapely.difference(
        shapely.union_all([g.boundary for g in urban_grid_geoms]), shapely.union_all([edges, ring]).buffer(1.0)
    )
    rows = []
    for lines, names, klass, rank in ((ring, RING, "快速路", 1), (edges, MAIN, "主干路", 2), (inner, MINOR, "支路", 4)):
        merged = shapely.line_merge(shapely.union_all(lines)) if not lines.is_empty else lines
        parts = [p for p in shapely.get_parts(merged) if p.length >= MIN_SEGMENT_M]
        order = rng.permutation(len(names))
        for i, line in enumerate(parts):
            name = names[order[i % len(names)]]
            rows.append(dict(kind="roads", name=name, klass=klass, rank=rank, geom=line))
    rows.append(dict(kind="places", name=district["name"], klass="区", rank=1, geom=_label_point(district["geom"])))
    for t in town_rows:
        rows.append(
            dict(kind="places", name=t["name"], klass="街道" if t["urban"] else "镇", rank=2, geom=_label_point(t["geom"]))
        )
    for c in communities:
        rows.append(dict(kind="places", name=c["name"], klass=c["kind"], rank=3, geom=_label_point(c["geom"])))
    return pd.DataFrame(rows, columns=["kind", "name", "klass", "rank", "geom"])


def _label_point(geom):
    return shapely.point_on_surface(geom) if geom is not None and not geom.is_empty else shapely.Point(np.nan, np.nan)
