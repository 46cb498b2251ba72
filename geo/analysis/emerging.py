"""Emerging hotspots: how each grid's Gi* hot/cold status evolved week by week.

A map of today's hotspots does not tell a leader whether a place is getting worse. In the
spirit of ArcGIS's Emerging Hot Spot Analysis, each grid gets a weekly series of Gi* z-scores
(all weeks in one sparse product, geo.analysis.hotspots.gi_star_z), a Mann-Kendall trend over that
series, and a pattern: new, consecutive, intensifying, persistent, diminishing, sporadic,
oscillating or historical hot spot (and the same for cold spots).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from geo import db
from geo.analysis.filters import INCIDENT_FILTER, filter_params, time_window
from geo.analysis.hotspots import gi_star_z, grid_weights, two_sided_p
from geo.worktime import CST

PATTERNS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical")
LABELS = {
    **{f"{p}_hot": f"{z}热点" for p, z in zip(PATTERNS, ("新增", "连续", "加剧", "持续", "减弱", "零星", "振荡", "历史"))},
    **{f"{p}_cold": f"{z}冷点" for p, z in zip(PATTERNS, ("新增", "连续", "加剧", "持续", "减弱", "零星", "振荡", "历史"))},
    "none": "无模式",
}
# The weekly cube is grids x weeks x (neighbours): 520 weeks took 13 s and 5.3 GB for one
# request at district scale (issue #18, finding 7); two years keep one request near 1 GB at most.
MAX_WEEKS = 104
MOSTLY = 0.9  # "at least 90 % of the time steps" (ArcGIS)


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall trend of each row over its columns: (S, z, two-sided p).

    Vectorised over rows (20,000 grids x 26 weeks in one go); the variance has no tie
    correction, so on untied series it equals scipy's asymptotic Kendall tau test.
    """
    series = np.atleast_2d(np.asarray(series, dtype=float))
    t = series.shape[1]
    i, j = np.triu_indices(t, k=1)
    s = np.sign(series[:, j] - series[:, i]).sum(axis=1)
    variance = t * (t - 1) * (2 * t + 5) / 18
    z = s / np.sqrt(variance) if variance > 0 else np.zeros_like(s)
    return s, z, two_sided_p(z)


def classify(hot: np.ndarray, cold: np.ndarray, trend_z: float, trend_p: float, trend_alpha: float = 0.05) -> str:
    """The pattern of one grid from its weekly significant-hot/cold flags and its trend."""
    for flags, other, kind, sign in ((hot, cold, "hot", 1), (cold, hot, "cold", -1)):
        n = len(flags)
        share = flags.sum() / n if n else 0
        last = bool(flags[-1]) if n else False
        rising = trend_p < trend_alpha and sign * trend_z > 0
        falling = trend_p < trend_alpha and sign * trend_z < 0
        if share >= MOSTLY:
            if not last:
                return f"historical_{kind}"
            return f"{'intensifying' if rising else 'diminishing' if falling else 'persistent'}_{kind}"
        if not last:
            continue
        if flags.sum() == 1:
            return f"new_{kind}"
        run = n - np.flatnonzero(~flags)[-1] - 1  # length of the run that ends at the last week
        if run >= 2 and run == flags.sum():
            return f"consecutive_{kind}"
        return f"{'oscillating' if other.any() else 'sporadic'}_{kind}"
    return "none"


def weekly_counts(conn, codes, start: datetime, weeks: int, major_code=None) -> np.ndarray:
    """Incidents per grid (rows, `codes` order) per week since start (columns)."""
    end = start + timedelta(weeks=weeks)
    params = filter_params(start, end, major_code, origin=start, weeks=weeks)
    index = {c: k for k, c in enumerate(codes)}
    counts = np.zeros((len(codes), weeks))
    for r in db.rows(
        conn,
        f"""
            SELECT i.grid_code, floor(extract(epoch FROM i.reported_at - %(origin)s) / 604800)::int AS week,
                   count(*) AS n
              FROM incident i
             WHERE i.grid_code IS NOT NULL AND {INCIDENT_FILTER}
             GROUP BY 1, 2""",
        params,
    ):
        if r["grid_code"] in index and 0 <= r["week"] < weeks:
            counts[index[r["grid_code"]], r["week"]] = r["n"]
    return counts


def emerging(
    conn,
    end=None,
    weeks: int = 26,
    major_code: str | None = None,
    weights: str = "queen",
    distance_m: float | None = None,
    alpha: float = 0.10,
    trend_alpha: float = 0.05,
) -> pd.DataFrame:
    """Per grid: code, pattern, label, hot_weeks, cold_weeks, last_z, trend_z, trend_p.

    The weeks are the `weeks` whole weeks ending with the day `end` (default today, CST);
    a week is significant at `alpha` (two-sided, as the Gi* bins), the trend at `trend_alpha`.
    """
    if not 2 <= int(weeks) <= MAX_WEEKS:
        raise ValueError(f"weeks must be between 2 and {MAX_WEEKS}")
    weeks = int(weeks)
    last_day = end if end is not None else datetime.now(CST).date()
    _, stop = time_window(last_day, last_day)
    start = stop - timedelta(weeks=weeks)
    w = grid_weights(conn, weights, distance_m)
    z = gi_star_z(w.star, weekly_counts(conn, w.codes, start, weeks, major_code))
    significant = two_sided_p(z) < alpha
    hot, cold = significant & (z > 0), significant & (z < 0)
    _, trend_z, trend_p = mann_kendall(z)
    patterns = [classify(hot[k], cold[k], trend_z[k], trend_p[k], trend_alpha) for k in range(len(w.codes))]
    frame = pd.DataFrame(
        {
            "code": w.codes,
            "pattern": patterns,
            "label": [LABELS[p] for p in patterns],
            "hot_weeks": hot.sum(axis=1),
            "cold_weeks": cold.sum(axis=1),
            "last_z": z[:, -1],
            "trend_z": trend_z,
            "trend_p": trend_p,
        }
    )
    frame.attrs.update(start=start.isoformat(), end=stop.isoformat(), weeks=weeks)
    return frame
