"""`python -m geo forecast [--as-of DATE] [--days 7] [--json] [--store] | backtest [--weeks 8] [--json] | weekly`."""

from __future__ import annotations

import json

HELP = "风险预测：各网格未来N天预计事件数、回测命中率 (forecast, backtest)"


def add_arguments(p):
    p.add_argument("--as-of", help="forecast from this instant: YYYY-MM-DD (00:00 China time) or YYYY-MM-DDTHH:MM (default now)")
    p.add_argument("--days", type=int, default=7, help="horizon in days, 1-90 (default 7)")
    p.add_argument(
        "--json", action="store_true", help='{"as_of", "days", "grids": [{"grid_code", "expected", "tier", "reasons"}]}'
    )
    p.add_argument(
        "--store", action="store_true", help="keep the run in the database (replaces a run of the same as-of and days)"
    )
    p.add_argument("--top", type=int, default=20, help="grids listed in the text output (default 20)")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    bt = sub.add_parser("backtest", help="命中率与PAI：模型与基线在过去N个周截止点的表现")
    bt.add_argument("--weeks", type=int, default=8, help="weekly cut-offs, the last one a week before today (default 8)")
    bt.add_argument("--days", type=int, default=7, dest="bt_days", help="horizon in days (default 7)")
    bt.add_argument("--end", help="the backtest's end, YYYY-MM-DD (default today)")
    bt.add_argument("--json", action="store_true", dest="json_sub")
    sub.add_parser("weekly", help="store this week's and last week's Monday forecasts when missing")


def run(args) -> int:
    from geo import db
    from geo.cli import CommandError
    from geo.forecast import model as fc

    conn = db.connect()
    try:
        if args.action == "backtest":
            return _backtest(conn, args)
        if args.action == "weekly":
            return _weekly(conn)
        return _forecast(conn, args)
    except fc.ForecastError as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()


def _forecast(conn, args) -> int:
    from geo import labels
    from geo.forecast import model as fc
    from geo.forecast import store as forecast_store
    from geo.worktime import CST

    result = fc.forecast(conn, args.as_of, args.days)
    if args.store:
        forecast_store.store(conn, result)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    names = fc.grid_names(conn)
    high = [g for g in result.grids if g["tier"] == "high"]
    print(
        f"风险预测 forecast as of {result.as_of.astimezone(CST):%Y-%m-%d %H:%M} for {result.days} days: "
        f"{len(result.grids)} grids, {sum(g['expected'] for g in result.grids):.0f} incidents expected, "
        f"model {result.model['method']} ({result.model['training_rows']} training rows), {result.seconds:.1f} s"
        + (", stored" if args.store else "")
    )
    print(f"下周预警 top {len(high)} grids (top 5%), {sum(g['rising'] for g in high)} rising:")
    for g in result.grids[: args.top]:
        flag = " ↑" if g["rising"] else "  "
        print(
            f"  {g['rank']:>4} {g['grid_code']} {names.get(g['grid_code'], ''):<12} {g['expected']:6.2f}{flag} "
            f"{labels.t('tier.' + g['tier'])}  {g['reasons'][0]}"
        )
    return 0


def _backtest(conn, args) -> int:
    from geo.forecast import backtest as bt

    result = bt.backtest(conn, args.weeks, args.bt_days, args.end)
    if args.json_sub or args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(
        f"回测 backtest: {result['weeks']} weekly cut-offs to {result['end'][:10]}, {result['days']}-day horizon, "
        f"top {result['top_share']:.0%} of {result['grids']} grids"
    )
    print(f"  {'method':<18} {'hit rate':>9} {'PAI':>7}   model's margin")
    for m in bt.METHODS:
        s = result["summary"][m]
        margin = result["margins"].get(m)
        text = f"{margin['hit_rate_points']:+.2f} points, PAI x{margin['pai_ratio']}" if margin else ""
        print(f"  {m:<18} {s['hit_rate']:>9.1%} {s['pai']:>7.1f}   {text}  {bt.LABELS[m]}")
    beaten = [m for m, ok in result["model_beats"].items() if ok]
    print(f"the model beats {len(beaten)} of {len(result['model_beats'])} baselines on both hit rate and PAI")
    return 0


def _weekly(conn) -> int:
    from geo.forecast import store as forecast_store
    from geo.worktime import CST

    made = forecast_store.ensure_weekly(conn)
    if made:
        print("stored weekly forecasts as of " + ", ".join(f"{m.astimezone(CST):%Y-%m-%d %H:%M}" for m in made))
    else:
        print("weekly forecasts already stored")
    last = forecast_store.last_week(conn)
    if last and last["hit_rate"] is not None:
        print(
            f"预测命中率 last week: {last['hits']} of {last['incidents']} incidents in the {last['flagged']} flagged grids ({last['hit_rate']:.1%})"
        )
    return 0
