"""How good is the forecast? Hit rate and PAI at past weekly cut-offs, against baselines.

For each of the last N weekly cut-offs (midnights, China time, a week apart, the last one
a week before the backtest's end) the model is fitted with the data before the cut-off
only and ranks the grids; so does each baseline. Then the week after the cut-off is
counted:

  hit rate  share of that week's incidents (in current grids) that fell in the top 5 % of
            grids of the ranking;
  PAI       hit rate / the share of the jurisdiction's area those grids cover (Chainey's
            Predictive Accuracy Index: catching many incidents in a small area is the point).

Ties at the edge of the top 5 % are split evenly: when 3 grids tie for the last 2 places,
each counts for 2/3 of its incidents and area (a count baseline ties often; a random
tie-break would make its figures depend on luck). Baselines: the counts of the last 28, 90
and 365 days before the cut-off, and the risk-tier ranking (grid risk scores, the product's
own tiers) computed as of the cut-off with the active risk configuration, plus the tiers
stored today, which have seen the weeks being forecast (so they are flattered, and still
shown because that is what the screen shows).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from geo import db
from geo.forecast import model as fc

METHODS = ("model", "counts_28", "counts_90", "counts_365", "risk_tier", "risk_tier_today")
LABELS = {
    "model": "预测模型",
    "counts_28": "近28天事件数",
    "counts_90": "近90天事件数",
    "counts_365": "近365天事件数",
    "risk_tier": "风险等级排名（截止时）",
    "risk_tier_today": "风险等级排名（今日）",
}


def top_share_hits(scores: np.ndarray, actual: np.ndarray, area: np.ndarray, share: float = fc.TOP_SHARE) -> dict:
    """Hit rate and PAI of the top `share` of grids by `scores`, ties at the edge split evenly.

    Returns incidents, hits (fractional with ties), hit_rate, area_share, pai and k (grids).
    """
    scores = np.asarray(scores, dtype=float)
    actual = np.asarray(actual, dtype=float)
    area = np.asarray(area, dtype=float)
    n = len(scores)
    k = max(1, math.ceil(share * n))
    threshold = np.sort(scores)[::-1][k - 1]
    above = scores > threshold
    tied = scores == threshold
    weight = above.astype(float) + tied * ((k - above.sum()) / tied.sum())
    total = actual.sum()
    hits = float((weight * actual).sum())
    area_share = float((weight * area).sum() / area.sum()) if area.sum() > 0 else 0.0
    hit_rate = hits / total if total > 0 else 0.0
    return {
        "incidents": int(round(total)),
        "hits": round(hits, 3),
        "hit_rate": hit_rate,
        "area_share": area_share,
        "pai": hit_rate / area_share if area_share > 0 else 0.0,
        "k": k,
    }


def grid_areas(conn, codes: np.ndarray) -> np.ndarray:
    """km² of each current grid in `codes` order (PAI's denominator)."""
    by_code = {r["code"]: r["km2"] for r in db.rows(conn, "SELECT code, ST_Area(geom::geography) / 1e6 AS km2 FROM grid_current")}
    return np.array([by_code.get(c, 0.0) for c in codes], dtype=float)


def risk_scores(conn, codes: np.ndarray, as_of: datetime | None) -> np.ndarray:
    """Grid risk scores in `codes` order: computed as of a past instant with the active
    configuration, or (as_of None) the ones stored today."""
    from geo.risk import tiers as risk

    if as_of is None:
        rows = db.rows(conn, "SELECT grid_code, score FROM grid_risk")
    else:
        risk.ensure_config(conn)
        rows = db.rows(
            conn,
            "SELECT grid_code, score FROM risk_grid_scores((SELECT config->'grid' FROM risk_config WHERE id = 1), %s)",
            (as_of,),
        )
    by_code = {r["grid_code"]: float(r["score"] or 0) for r in rows}
    return np.array([by_code.get(c, 0.0) for c in codes])


def backtest(conn, weeks: int = 8, days: int = 7, end=None) -> dict:
    """The model and every baseline at the last `weeks` weekly cut-offs before `end`
    (default today's midnight, China time): per week and averaged over the weeks."""
    if not 1 <= int(weeks) <= 104:
        raise fc.ForecastError(f"weeks must be between 1 and 104, not {weeks}")
    days = fc.check_days(days)
    end = fc.as_of_instant(end or datetime.now(fc.CST).date())
    h = fc.load_history(conn, end, fc.LOOKBACK_DAYS + 7 * weeks)
    area = grid_areas(conn, h.codes)
    rows = []
    for i in range(weeks, 0, -1):
        offset = 7 * i
        cutoff = end - timedelta(days=offset)
        actual = h.count(offset - days, offset)
        expected, fitted, _, _ = fc.predict(h, offset, days)
        scores = {
            "model": expected,
            "counts_28": h.count(offset, offset + 28),
            "counts_90": h.count(offset, offset + 90),
            "counts_365": h.count(offset, offset + 365),
            "risk_tier": risk_scores(conn, h.codes, cutoff),
            "risk_tier_today": risk_scores(conn, h.codes, None),
        }
        rows.append(
            {
                "cutoff": cutoff.isoformat(),
                "incidents": int(actual.sum()),
                "model_method": fitted.method,
                "methods": {m: _rounded(top_share_hits(scores[m], actual, area)) for m in METHODS},
            }
        )
    summary = {
        m: {
            "hit_rate": round(float(np.mean([r["methods"][m]["hit_rate"] for r in rows])), 4),
            "pai": round(float(np.mean([r["methods"][m]["pai"] for r in rows])), 3),
        }
        for m in METHODS
    }
    model = summary["model"]
    margins = {
        m: {
            "hit_rate_points": round(100 * (model["hit_rate"] - summary[m]["hit_rate"]), 2),
            "pai_ratio": round(model["pai"] / summary[m]["pai"], 3) if summary[m]["pai"] else None,
        }
        for m in METHODS
        if m != "model"
    }
    return {
        "end": end.isoformat(),
        "weeks": weeks,
        "days": days,
        "top_share": fc.TOP_SHARE,
        "grids": int(len(h.codes)),
        "cutoffs": rows,
        "summary": summary,
        "model_beats": {m: margins[m]["hit_rate_points"] > 0 and (margins[m]["pai_ratio"] or 0) > 1 for m in margins},
        "margins": margins,
        "labels": LABELS,
    }


def _rounded(result: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}
