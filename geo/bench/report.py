"""The benchmark's verdict: each target of issue #8 with its value and met / missed, and a
readable table (Chinese and English) beside the JSON.

Targets are stated for city scale; at other scales they are still evaluated, so a
district run shows how much headroom is left, and the report says which scale it is.
"""

from __future__ import annotations

INTERACTIONS = ("time_window_change", "category_filter", "layer_toggle", "grid_click", "live_refresh", "live_refresh_panels")
MB = 1024 * 1024


def _get(report: dict, *path, default=None):
    cur = report
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return default
        cur = cur[p]
    return cur


def _target(name: str, label: str, value, limit, unit: str, higher_is_better: bool = False) -> dict:
    met = None if value is None else (value >= limit if higher_is_better else value <= limit)
    return {
        "name": name,
        "label": label,
        "value": value,
        "target": (">= " if higher_is_better else "<= ") + f"{limit} {unit}",
        "met": met,
    }


def targets(report: dict, baseline: dict | None = None) -> list[dict]:
    """Every target of issue #8; `baseline` is a district report for the 'at most doubles' rule."""
    s = report.get("screen", {})
    out = [
        _target(
            "import_incidents",
            "批量导入事件 bulk import incidents",
            _get(report, "import", "incidents", "rows_per_s"),
            100_000,
            "rows/s",
            True,
        ),
        _target(
            "history_load",
            "历史导入 history load (import incidents --history)",
            _get(report, "history", "rows_per_s"),
            100_000,
            "rows/s",
            True,
        ),
        _target(
            "assignment_vs_sjoin",
            "落格 in memory (import) vs geopandas sjoin, ratio",
            _get(report, "assignment", "ratio_sjoin_over_in_memory"),
            1.0,
            "x",
            True,
        ),
        _target(
            "assignment_sql_vs_sjoin",
            "落格 SQL locate_points (publish) vs sjoin, ratio",
            _get(report, "assignment", "ratio_sjoin_over_sql"),
            1.0,
            "x",
            True,
        ),
        _target("first_load", "大屏首次加载 first load p95 (cold process)", _get(s, "first_load", "p95_ms"), 2000, "ms"),
        _target(
            "first_load_warmed_worker",
            "大屏首次加载 first load p95 (signed in, warmed worker)",
            _get(s, "first_load_warmed_worker", "p95_ms"),
            2000,
            "ms",
        ),
    ]
    out += [_target(f"{name}_p95", f"交互 {name} p95", _get(s, name, "p95_ms"), 300, "ms") for name in INTERACTIONS]
    out.append(
        _target(
            "street_tiles_p95",
            "底图瓦片 basemap and street-name tiles p95 (no cache, worst zoom)",
            _get(report, "streets", "tile_p95_ms"),
            300,
            "ms",
        )
    )
    if _get(s, "live_refresh_panels_after_change") is not None:  # caches miss once per write
        out.append(
            _target(
                "live_refresh_panels_after_change_p95",
                "交互 数据变更后首次刷新 first refresh after a write p95",
                _get(s, "live_refresh_panels_after_change", "p95_ms"),
                300,
                "ms",
            )
        )
    largest = max(
        [v for v in (_get(s, "largest_response_bytes"), _get(report, "app", "largest_response_bytes")) if v is not None],
        default=None,
    )
    out += [
        _target(
            "largest_response", "单次响应最大 largest response", None if largest is None else round(largest / MB, 3), 3, "MB"
        ),
        _target("coverage", "覆盖检查 coverage check", _get(report, "coverage", "median_ms"), 5000, "ms"),
        _target("risk_full", "风险全量重算 full risk recompute", _get(report, "risk", "full", "median_ms"), 5000, "ms"),
        _target(
            "risk_incremental",
            "风险增量 incremental (one incident, trigger)",
            _get(report, "risk", "incremental_insert_with_trigger", "p95_ms"),
            50,
            "ms",
        ),
        _target(
            "risk_one_grid",
            "风险单网格重算 recompute_grids([one])",
            _get(report, "risk", "incremental_one_grid", "p95_ms"),
            50,
            "ms",
        ),
        _target(
            "alerts_per_incident",
            "预警规则 alarm evaluation per new incident (issue #16)",
            _get(report, "alerts", "rules_per_incident", "p95_ms"),
            50,
            "ms",
        ),
        _target("hotspots", "热点 Gi* hotspots", _get(report, "hotspots", "median_ms"), 2000, "ms"),
        _target(
            "forecast", "风险预测 full forecast, every grid (issue #16)", _get(report, "forecast", "median_ms"), 10_000, "ms"
        ),
        _target("app_rss", "应用峰值内存 app peak RSS", _get(report, "app", "peak_rss_mb"), 1536, "MB"),
    ]
    out.append(
        _target(
            "push_commit_to_screen_p95",
            f"推送 commit to screen p95 ({_get(report, 'push', 'screens')} screens)",
            _get(report, "push", "commit_to_screen", "p95_ms"),
            2000,
            "ms",
        )
    )
    at50 = next((st for st in _get(report, "load", "steps", default=[]) if st["screens"] == 50), None)
    if at50 is not None:
        out += [
            _target(
                "load_50_p95", "负载 50 块大屏 p95 (50 wall screens + writes)", _get(at50, "screen_requests", "p95_ms"), 300, "ms"
            ),
            _target(
                "load_50_errors",
                "负载 50 块大屏 错误数 errors (incl. 503)",
                _get(at50, "screen_requests", "errors", default=0)
                + _get(at50, "screen_requests", "busy_503", default=0)
                + _get(at50, "writes", "errors", default=0)
                + _get(at50, "writes", "busy_503", default=0),
                0,
                "",
            ),
        ]
    if baseline:
        b = baseline.get("screen", {})
        for name in ("first_load",) + INTERACTIONS:
            now, then = _get(s, name, "p95_ms"), _get(b, name, "p95_ms")
            ratio = round(now / then, 2) if now is not None and then else None
            out.append(_target(f"scale_{name}", f"区→市 {name} p95 比 district→city ratio", ratio, 2.0, "x"))
    return out


def table(report: dict) -> str:
    """The human-readable summary printed after the JSON."""
    lines = [
        f"全域 Quanyu 基准 benchmark — scale {report['scale']} ({report.get('data', {}).get('grids')} grids, "
        f"{report.get('data', {}).get('households')} households, {report.get('data', {}).get('incidents')} incidents; "
        f"{report.get('machine', {}).get('cores')} cores, shared)",
        f"{'指标 measure':58} {'value':>12} {'target':>16}  result",
    ]
    for t in report.get("targets", []):
        verdict = "—" if t["met"] is None else ("met 达标" if t["met"] else "MISSED 未达标")
        lines.append(f"{t['label'][:58]:58} {str(t['value']):>12} {t['target']:>16}  {verdict}")
    peers = _get(report, "partition", "methods", default=[])
    if peers:
        lines.append("划分对比 partition comparison (same community):")
        for m in peers:
            if "error" in m:
                lines.append(f"  {m['method']:34} error: {m['error'][:80]}")
            else:
                lines.append(
                    f"  {m['method']:34} {m['seconds']:8.2f}s  grids {m['grids']:3}  max_dev_target "
                    f"{m['max_dev_target']:.3f}  Polsby-Popper mean {m['polsby_popper_mean']:.3f}"
                )
    a = report.get("assignment")
    if a:
        lines.append(
            f"落格 assignment of {a['points']} points in {a['grids']} grids: in memory (geo.assign) "
            f"{_get(a, 'in_memory', 'median_ms')} ms, SQL {a['sql_join']['median_ms']} ms, geopandas sjoin "
            f"{a['geopandas_sjoin']['median_ms']} ms (ratios {a.get('ratio_sjoin_over_in_memory')} and {a['ratio_sjoin_over_sql']})"
        )
    for section, title in (("load", "负载 load test"), ("replica", "负载 load test, reads on a hot standby")):
        lines += _load_lines(report.get(section), title)
    push = report.get("push")
    if push and "commit_to_screen" in push:
        lines.append(
            f"推送 push: {push['screens']} screens, {push['writes']} commits: commit to event p95 "
            f"{_get(push, 'commit_to_event', 'p95_ms')} ms, to screen (refresh answered) p95 "
            f"{_get(push, 'commit_to_screen', 'p95_ms')} ms; missed {push['missed']}, streams refused {push['streams_refused']}"
        )
    imp = _get(report, "import", "incidents")
    if imp and "stage_seconds" in imp:
        stages = ", ".join(f"{k.split(' ')[-1]} {v:.2f}s" for k, v in imp["stage_seconds"].items() if v >= 0.01)
        lines.append(f"导入 import of {imp['rows']} incidents, {imp['seconds']} s: {stages}")
        floor = _get(report, "import", "insert_without_schema")
        if floor:
            lines.append(
                f"  the same rows into incident's shape: bare {floor['bare']['rows_per_s']:,.0f} rows/s, "
                f"with its indexes {floor['with_indexes']['rows_per_s']:,.0f} rows/s"
            )
    hist = report.get("history")
    if hist and "stage_seconds" in hist:
        stages = ", ".join(f"{k.split(' ')[-1]} {v:.2f}s" for k, v in hist["stage_seconds"].items() if v >= 0.01)
        lines.append(
            f"历史 history load of {hist['rows']} incidents over {hist['months']} months, {hist['seconds']} s "
            f"({hist['rows_per_s']:,.0f} rows/s): {stages}"
        )
        least = hist.get("floor")
        if least:
            lines.append(
                f"  its floor here (the same rows copied into fresh month tables and their indexes built, nothing else): "
                f"{least['copy_seconds']} + {least['index_seconds']} s = {least['rows_per_s']:,.0f} rows/s"
            )
    return "\n".join(lines)


def _load_lines(load: dict | None, title: str) -> list[str]:
    """The load test's steps (the `load` section, or `replica`: the same with reads on a standby)."""
    if not load or "steps" not in load:
        return []
    lines = [f"{title} ({load['server']}, poll every {load['poll_seconds']} s, writes {load['write_burst']}):"]
    for st in load["steps"]:
        r, w = st["screen_requests"], st["writes"]
        lines.append(
            f"  {st['screens']:4} screens: {r['throughput_per_s']:7.1f} req/s  p50 {r.get('p50_ms')} p95 {r.get('p95_ms')} "
            f"p99 {r.get('p99_ms')} ms  errors {r['errors']} 503 {r['busy_503']}; writes {w['requests']} "
            f"p95 {w.get('p95_ms')} ms errors {w['errors']} 503 {w['busy_503']}"
            + (f"; reads from {r['read_from']}" if r.get("read_from") else "")
        )
    lines.append(f"  p95 = 1 s at {load.get('screens_at_p95_1s')} screens ({load.get('screens_at_p95_1s_note')})")
    return lines
