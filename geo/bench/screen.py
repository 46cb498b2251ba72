"""The big screen's server side under the benchmark: each interaction, bytes per layer, and
the app's peak memory.

In-process figures call the same functions the page and the tile endpoint call
(geo.web.pages.bigscreen.layout, geo.tiles.render, geo.analysis.dashboard) with the tile cache bypassed,
so they are cold-render times; the app figures run `app.py` as a subprocess on 127.0.0.1
against the bench database and drive it with a bounded list of requests (every tile of
the initial view per layer and filter, the page, the layout, the version poll), then
read its peak RSS (VmHWM) from /proc.

An "interaction" costs every tile it makes the browser fetch for the initial view,
rendered one after another: a conservative figure (a browser fetches six at a time, and
gunicorn workers would render them in parallel).
"""

from __future__ import annotations

import json
import math
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from geo import config, db
from geo.bench import app_server
from geo.bench.measure import strip, summary, timed, unlink_alerts
from geo.worktime import CST

VIEW_PX = (1280, 800)  # the map's share of a 1920x1080 big screen
REPO = config.REPO_ROOT


def initial_view(bounds: tuple[float, float, float, float]) -> tuple[int, list[tuple[int, int]]]:
    """Zoom that fits the jurisdiction's bounds in the view (as MapLibre's fitBounds), and its tiles."""
    w, s, e, n = bounds

    def merc_y(lat):
        return (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2

    span_x, span_y = max((e - w) / 360, 1e-9), max(merc_y(s) - merc_y(n), 1e-9)
    z = max(0, min(16, int(math.floor(min(math.log2(VIEW_PX[0] / 256 / span_x), math.log2(VIEW_PX[1] / 256 / span_y))))))
    k = 2**z
    xs = range(int((w + 180) / 360 * k), int((e + 180) / 360 * k) + 1)
    ys = range(int(merc_y(n) * k), int(merc_y(s) * k) + 1)
    return z, [(x, y) for x in xs for y in ys]


def _params(window: str = "30", major: str | None = None) -> dict:
    from geo.web.api.tiles import window_bounds

    start, end = window_bounds({"window": window}, datetime.now(CST))
    return {"start": start, "end": end, "major": major}


def _render_view(conn, layer, z, tiles, params) -> list[bytes]:
    from geo import tiles as tile_mod

    return [tile_mod.render(conn, layer, z, x, y, params) for x, y in tiles]


def first_load_warmed(url: str, z: int, view, visible, repeat: int, code: str | None = None) -> dict:
    """The first load as a signed-in administrator of the whole jurisdiction meets it on a
    serving worker: after the worker's start-up warm-up (geo.web.screen_warm, which runs
    under gunicorn and `python app.py`), under that role's row-level security through the
    pool. The warm-up's own time is reported beside it: a screen opened within that time
    of a worker's start pays the cold figure instead. `code`: an administrator of that unit
    instead (a county of the province), whose screen opens on it."""
    from geo.security import access
    from geo.web import screen_warm
    from geo.web.pages import bigscreen

    conn = db.connect(url)
    code = code or db.scalar(conn, "SELECT code FROM jurisdiction ORDER BY code LIMIT 1")
    conn.close()
    scope = access.Scope("bench", "admin", code)
    t = time.perf_counter()
    screen_warm.warm_scope(scope, url=url)
    warm_s = time.perf_counter() - t

    def load():
        with db.scoped(scope), db.pooled(url) as c:
            bigscreen.layout()
            return [b for layer in visible for b in _render_view(c, layer, z, view, _params())]

    r = timed(load, repeat, budget_s=60)
    return strip(r) | {"warm_up_s": round(warm_s, 2), "role": "admin", "scope": code}


def county_scope(conn, url: str, visible, repeat: int) -> dict:
    """A county administrator's big screen in a province: first load on a warmed worker and
    time-window changes of the county's initial view, under its row-level security."""
    from geo.security import access
    from layers import LAYERS

    county = db.one(
        conn,
        """SELECT code, ST_XMin(e) AS xmin, ST_YMin(e) AS ymin, ST_XMax(e) AS xmax, ST_YMax(e) AS ymax
             FROM (SELECT code, ST_Extent(geom)::box2d AS e FROM admin_unit WHERE level = 'district'
                    GROUP BY code ORDER BY code LIMIT 1) u""",
    )
    z, view = initial_view((county["xmin"], county["ymin"], county["xmax"], county["ymax"]))
    out = {"code": county["code"], "initial_zoom": z, "tiles_in_view": len(view)}
    out["first_load_warmed_worker"] = first_load_warmed(url, z, view, visible, repeat, code=county["code"])
    scope = access.Scope("bench", "admin", county["code"])
    windows = [layer for layer in LAYERS.values() if "window" in layer.filters]
    ms = []
    with db.scoped(scope), db.pooled(url) as c:
        for w in ["1", "7", "90", "30"] * max(1, repeat // 2):
            t = time.perf_counter()
            for layer in windows:
                _render_view(c, layer, z, view, _params(w))
            ms.append((time.perf_counter() - t) * 1000)
    out["time_window_change"] = summary(ms)
    return out


def interactions(url: str, repeat: int) -> dict:
    """Server-side time of each big-screen interaction, and bytes per layer of the initial view."""
    import plotly

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    __import__("app")  # the Dash app must exist before its pages' modules are imported
    from geo.analysis import dashboard, heat
    from geo.web.pages import bigscreen
    from layers import LAYERS

    conn = db.connect(url)
    j = dashboard.jurisdiction(conn)
    z, view = initial_view((j["xmin"], j["ymin"], j["xmax"], j["ymax"]))
    for layer in LAYERS.values():  # derived tables as the tile endpoint would refresh them, once
        if layer.prepare:
            layer.prepare(conn)
            conn.commit()
    visible = [layer for layer in LAYERS.values() if layer.visible]
    out = {"initial_zoom": z, "tiles_in_view": len(view)}

    def first_load():
        # A new worker each time: nothing in memory, the days other workers read before
        # kept in day_cache (migration 0074); committed as a served request's connection is.
        dashboard.clear_cache()
        heat.clear_cache()
        page = bigscreen.layout()
        blobs = [b for layer in visible for b in _render_view(conn, layer, z, view, _params())]
        conn.commit()
        return page, blobs

    with db.transaction(conn) as cur:  # the very first worker of a database: nothing kept yet
        cur.execute("DELETE FROM day_cache")
    empty = timed(first_load, 1, budget_s=60)
    fl = timed(first_load, repeat, budget_s=60)
    page = fl["result"][0]
    layout_bytes = len(json.dumps(page, cls=plotly.utils.PlotlyJSONEncoder).encode())
    lay = timed(bigscreen.layout, repeat, budget_s=30)
    out["first_load"] = strip(fl) | {
        "layout_only": strip(lay),
        "worker": "new each run (in-memory caches cleared), days kept in day_cache by the runs before",
        "first_worker_of_the_database_ms": strip(empty).get("p95_ms"),
    }
    out["first_load_warmed_worker"] = first_load_warmed(url, z, view, visible, repeat)
    if db.scalar(
        conn, "SELECT EXISTS (SELECT 1 FROM admin_unit a JOIN jurisdiction j ON a.parent_code = j.code WHERE a.level = 'city')"
    ):
        out["county_scope"] = county_scope(conn, url, visible, repeat)  # a province: one county's screen too

    def each(samples, fn) -> dict:
        ms = []
        for s in samples:
            t = time.perf_counter()
            fn(s)
            ms.append((time.perf_counter() - t) * 1000)
        return summary(ms) | {"samples": [str(s) for s in samples]}

    by_filter = lambda f: [layer for layer in LAYERS.values() if f in layer.filters]  # noqa: E731
    out["time_window_change"] = each(
        ["1", "7", "90", "30"] * max(1, repeat // 2),
        lambda w: [_render_view(conn, layer, z, view, _params(w)) for layer in by_filter("window")],
    )
    majors = [r["major_code"] for r in db.rows(conn, "SELECT DISTINCT major_code FROM category ORDER BY 1")][:6]
    out["category_filter"] = each(
        majors, lambda m: [_render_view(conn, layer, z, view, _params(major=m)) for layer in by_filter("category")]
    )
    out["layer_toggle"] = each(list(LAYERS), lambda lid: _render_view(conn, LAYERS[lid], z, view, _params()))
    codes = [
        r["code"] for r in db.rows(conn, "SELECT code FROM grid_current ORDER BY md5(code) LIMIT %s", (max(10, repeat * 4),))
    ]
    out["grid_click"] = each(codes, lambda c: dashboard.grid_card(conn, c))
    out["live_refresh"] = strip(
        timed(lambda: (dashboard.versions(conn), dashboard.kpis(conn), dashboard.feed(conn)), repeat * 2, budget_s=30)
    )
    out["live_refresh_panels"] = strip(
        timed(
            lambda: (
                dashboard.kpis(conn),
                dashboard.by_category(conn),
                dashboard.trend(conn),
                dashboard.level_shares(conn),
                dashboard.town_ranking(conn),
            ),
            repeat,
            budget_s=30,
        )
    )
    # The first refresh after a write. The screen's caches are kept per local day (migration
    # 0024), so clearing them would measure a new worker, not a write: each sample writes
    # for real (a probe incident reported now and one reported on a past day, as a status
    # change of an older incident would touch), then refreshes every panel; the probes are
    # deleted afterwards. The caches-cleared figure is kept apart as "cold".
    from geo.bench.measure import PROBE_TITLE

    probe = db.one(
        conn,
        """SELECT g.code, g.admin_code, ST_PointOnSurface(g.geom) AS p,
                                   (SELECT minor_code FROM category ORDER BY minor_code LIMIT 1) AS cat
                              FROM grid_current g ORDER BY g.code LIMIT 1""",
    )
    back = iter(range(1, 1000))

    ids: list[int] = []

    def write():
        with db.transaction(conn) as cur:
            cur.execute(
                """INSERT INTO incident (title, minor_code, source, reported_at, grid_code, admin_code, geom, synthetic)
                           SELECT %(t)s, %(cat)s, 'patrol', at, %(code)s, %(admin)s, %(p)s::geometry, true
                             FROM unnest(ARRAY[now(), now() - make_interval(days => %(back)s)]) at RETURNING id""",
                dict(
                    t=PROBE_TITLE,
                    cat=probe["cat"],
                    code=probe["code"],
                    admin=probe["admin_code"],
                    p=probe["p"],
                    back=next(back) % 20 + 1,
                ),
            )
            ids.extend(r[0] for r in cur.fetchall())

    def panels():
        return (
            dashboard.kpis(conn),
            dashboard.by_category(conn),
            dashboard.trend(conn),
            dashboard.level_shares(conn),
            dashboard.town_ranking(conn),
        )

    ms = []
    try:
        for _ in range(max(2, repeat)):
            write()
            t = time.perf_counter()
            panels()
            ms.append((time.perf_counter() - t) * 1000)
    finally:  # by id (they have no history): remove_probes would need a lock the caller's open transaction may hold
        with db.transaction(conn) as cur:
            unlink_alerts(cur, "SELECT unnest(%s::bigint[])", (ids,))
            cur.execute("DELETE FROM incident WHERE id = ANY(%s)", (ids,))
    out["live_refresh_panels_after_change"] = summary(ms) | {"write": "a probe incident now and one 1-20 days ago"}

    def cold():
        dashboard.clear_cache()
        heat.clear_cache()
        return panels()

    out["live_refresh_panels_cold"] = strip(timed(cold, max(2, repeat // 2), budget_s=30))
    from geo import tiles as tile_mod

    sizes = {}
    for lid, layer in LAYERS.items():
        blobs = _render_view(conn, layer, z, view, _params())
        sizes[lid] = {
            "bytes": sum(map(len, blobs)),
            "sent_bytes": sum(len(tile_mod.maybe_gzip(b, "gzip")[0]) for b in blobs),
            "largest_tile": max(map(len, blobs), default=0),
        }
    out["bytes_per_layer"] = sizes
    out["layout_json_bytes"] = layout_bytes
    out["largest_response_bytes"] = max([layout_bytes] + [s["largest_tile"] for s in sizes.values()])
    conn.close()
    return out


# --------------------------------------------------------------------------- the app


_opener = urllib.request.build_opener()
BENCH_USER, BENCH_PASSWORD = "bench-admin", "Bench-pass-2026!"


def _get(url: str, timeout: float = 60) -> tuple[int, float]:
    t = time.perf_counter()
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with _opener.open(req, timeout=timeout) as r:
        n = len(r.read())
    return n, (time.perf_counter() - t) * 1000


def ensure_bench_account(conn) -> None:
    """The benchmark's administrator of the whole jurisdiction, made once per bench database."""
    from geo.security import accounts

    if not db.scalar(conn, "SELECT 1 FROM app_user WHERE username = %s", (BENCH_USER,)):
        unit = db.scalar(conn, "SELECT code FROM jurisdiction ORDER BY code LIMIT 1")
        accounts.create_user(conn, BENCH_USER, BENCH_PASSWORD, "admin", unit, "基准测试")
    accounts.set_active(conn, BENCH_USER, True)


def _sign_in(base: str, url: str) -> bool:
    """Sign in through the app's form with a bench account (made once in the bench
    database) when the app requires sign-in; the session cookie then rides on every request."""
    global _opener
    import http.cookiejar
    import re
    import urllib.parse

    jar = http.cookiejar.CookieJar()
    _opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    try:
        with _opener.open(base + "/login", timeout=30) as r:
            form = r.read().decode(errors="replace")
    except OSError:
        return False  # no sign-in page: an app without accounts
    try:
        conn = db.connect(url)
        try:
            ensure_bench_account(conn)
        finally:
            conn.close()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        data = urllib.parse.urlencode(
            {"username": BENCH_USER, "password": BENCH_PASSWORD, "csrf_token": csrf.group(1) if csrf else ""}
        ).encode()
        with _opener.open(base + "/login", data=data, timeout=30) as r:
            r.read()
        return any(c.name for c in jar if "session" in c.name.lower())
    except Exception:  # the accounts API is young: measure what can be measured
        return False


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


WORKERS = 2


def app_run(url: str, max_requests: int = 400, start_timeout: float = 120) -> dict:
    """Start the app (gunicorn -w 2, else app.py) against the bench database, drive a bounded
    set of requests, then a parallel first load, and read every process's VmHWM."""
    from geo.analysis import dashboard

    conn = db.connect(url)
    j = dashboard.jurisdiction(conn)
    majors = [r["major_code"] for r in db.rows(conn, "SELECT DISTINCT major_code FROM category ORDER BY 1")][:3]
    conn.close()
    z, view = initial_view((j["xmin"], j["ymin"], j["xmax"], j["ymax"]))
    try:  # served as in production (make serve): gunicorn, WORKERS processes with threads, one database
        with app_server.running(url, workers=WORKERS, start_timeout=start_timeout) as app:
            return _drive(app, url, z, view, majors, max_requests)
    except app_server.AppDidNotStart as exc:
        return {"error": str(exc)}


def _drive(app: app_server.Served, url: str, z: int, view, majors: list[str], max_requests: int) -> dict:
    from layers import LAYERS

    base, server = app.base, f"gunicorn -w {app.workers} --threads {app.threads}"
    signed_in = _sign_in(base, url)
    urls = [base + "/", base + "/_dash-layout"]
    for lid, layer in LAYERS.items():
        variants = (
            [""]
            + ([f"?window={w}" for w in ("7", "90")] if "window" in layer.filters else [])
            + ([f"?major={m}" for m in majors] if "category" in layer.filters else [])
        )
        urls += [f"{base}/tiles/{lid}/{z}/{x}/{y}.pbf{v}" for v in variants for x, y in view]
    urls += [base + "/api/versions"] * 10
    urls = urls[:max_requests]
    ms, largest = [], 0
    for u in urls:
        n, t = _get(u)
        ms.append(t)
        largest = max(largest, n)
    # A browser's first load: page, layout and every visible layer's initial tiles, six
    # requests at a time (as a browser does), spread over the workers. Cold: a new
    # window value no worker has cached yet.
    from concurrent.futures import ThreadPoolExecutor

    first = [base + "/", base + "/_dash-layout"] + [
        f"{base}/tiles/{lid}/{z}/{x}/{y}.pbf?window=1" for lid, layer in LAYERS.items() if layer.visible for x, y in view
    ]
    t = time.perf_counter()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(_get, first))
    parallel_ms = (time.perf_counter() - t) * 1000
    pids = app.pids()
    rss = {pid: round(_peak_rss_mb(pid), 1) for pid in pids}
    return {
        "server": server,
        "signed_in": signed_in,
        "requests": len(urls),
        "http": summary(ms),
        "largest_response_bytes": largest,
        "first_load_parallel_ms": round(parallel_ms, 1),
        "first_load_parallel_requests": len(first),
        "peak_rss_mb": max(rss.values()),
        "peak_rss_mb_total": round(sum(rss.values()), 1),
    }
