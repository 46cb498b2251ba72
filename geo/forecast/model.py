"""风险预测: the expected number of incidents per grid in the next N days (issue #16).

The model is a Poisson regression (a GLM with log link, scikit-learn's PoissonRegressor) of
the incidents of the next N days on what each grid looked like before the cut-off:

  recent trend   log(1 + count) of the last 7, 28 and 91 days, and of the last days'
                 incidents weighted by exp(-age / 3 days);
  long-run level log(1 + count of the last 365 days) and log(1 + yearly rate over all the
                 history before the cut-off, up to three years, or since the grid's level
                 clearly changed: level_since_change);
  neighbours     log(1 + mean count of the 6 nearest grids) over the last days and 91 days,
                 and their long-run yearly rate; the long-run rate of the 24 nearest (sparse
                 data: a grid with one incident in years is read from its neighbourhood);
                 the neighbourhood's incidents per household (near repeats: trouble spreads
                 to the next street; a quiet grid in a troubled neighbourhood is not as safe
                 as its own few counts say);
  season         log of how much busier the same N days were a year earlier than the 91
                 days before them, jurisdiction-wide (disputes peak in winter and spring,
                 other events in summer), and each grid's own: its incidents in the quarter
                 around those dates a year earlier against its long-run pace;
  exposure       log(1 + households of the grid).

The forecast is the mean of that GLM and an additive partner fitted on the same rows: the
same counts (not their logs) with non-negative weights, so that a grid's expectation can be
a background *plus* what its last days and its neighbours add, the shape of a
self-exciting process, which a product of powers cannot take (see `fit`).

It is fitted afresh at every run on the same grids at up to 26 weekly cut-offs before the
as-of instant (each cut-off's target is the N days after it, all of them before as-of), so
it learns how much each term predicts in this jurisdiction rather than trusting weights
chosen elsewhere, and it never reads an incident reported at or after as-of: the counts
come from one query bounded by `reported_at < as_of` (whole local days from the daily
aggregate, the as-of's own partial day from `incident`). Why this model and what it beats
is in docs/forecast.md.

Everything works on one matrix of daily counts, grids x days back from as-of, and its
cumulative sums, so a window's count is one subtraction and the backtest refits at earlier
cut-offs from the same matrix without reading the database again.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime

import numpy as np

from geo import db
from geo.worktime import CST

TOP_SHARE = 0.05  # 下周预警 and the backtest's hit rate: the top 5 % of grids
MEDIUM_SHARE = 0.20  # tiers of the forecast: top 5 % high, the next 15 % medium, the rest low
RISING_RATIO = 1.15  # "rising": the forecast is at least 15 % above the last 28 days' pace
RISING_MIN_PER_WEEK = 0.5  # ...and at least half an incident a week above it (not 0.2 over 0.8 by noise)
TRAIN_WEEKS = 26  # weekly cut-offs the model is fitted on (half a year: every season's edge once)
MAX_TRAIN_ROWS = 200_000  # fewer cut-offs for very many grids (10 for a city of 20,000), so a city fits in seconds
LONG_RUN_DAYS = 3 * 365  # the long-run level looks back at most three years
SEASON_BASE_DAYS = 91
NEIGHBOURS = 6
WIDE_NEIGHBOURS = 24  # the wider neighbourhood (about two rings of grids): sparse data borrows from it
RECENT_DAYS = 3.0  # time constant of the "last few days" count: near repeats fade within a week or two
LOOKBACK_DAYS = LONG_RUN_DAYS + SEASON_BASE_DAYS + 7 * TRAIN_WEEKS + 90
FEATURES = (
    "recent",
    "n7",
    "n28",
    "n91",
    "n365",
    "long_run",
    "nb_recent",
    "nb91",
    "nb_long",
    "nb_wide",
    "nb_rate",
    "season",
    "grid_season",
    "households",
)
# The additive partner of the GLM (see fit): the counts themselves, not their logs, so that a
# grid's expectation can be its background level *plus* what its last days' incidents and
# its neighbours' add, as in a self-exciting process, which a product of powers cannot be.
ADDITIVE = ("recent", "n7", "n28", "n91", "n365", "long_run", "nb_recent", "nb91", "nb_long", "nb_wide")
REASON_GROUPS = {  # the explanation's four parts, each fed by some of the features
    "trend": ("recent", "n7", "n28", "n91"),
    "neighbours": ("nb_recent", "nb91", "nb_long", "nb_wide", "nb_rate"),
    "season": ("season", "grid_season"),
    "long_run": ("n365", "long_run", "households"),
}


class ForecastError(ValueError):
    """A forecast that cannot be made (bad arguments, no grids): the message says what to do."""


def as_of_instant(value: str | date | datetime | None) -> datetime:
    """The as-of instant: now, a date (00:00 China time that day) or a date and time
    (China time unless it names its zone)."""
    if value is None:
        return datetime.now(CST)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=CST)
    if isinstance(value, date):
        return datetime.combine(value, dtime(0, 0), CST)
    text = str(value).strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), dtime(0, 0), CST)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ForecastError(f"as-of {text!r} is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CST)


def check_days(days: int) -> int:
    if not 1 <= int(days) <= 90:
        raise ForecastError(f"days must be between 1 and 90, not {days}")
    return int(days)


# --------------------------------------------------------------------------- the counts


@dataclass
class History:
    """Daily incident counts of the current grids before `as_of`.

    `cum[:, j]` is the number of incidents of each grid in the j days before as-of (local
    days; the as-of's own day, when as-of is not a midnight, counts with the day before),
    so the count in the days [a, b) back is cum[:, b] - cum[:, a].
    """

    as_of: datetime
    codes: np.ndarray
    cum: np.ndarray  # grids x (horizon + 1), cumulative
    span: int  # days back to the first incident: how much history there is
    households: np.ndarray
    neighbours: np.ndarray  # grids x NEIGHBOURS indices of the nearest grids (-1: none)
    wide: np.ndarray | None = None  # grids x WIDE_NEIGHBOURS indices (None: the nearest only)

    def count(self, start: int, end: int) -> np.ndarray:
        """Incidents per grid reported in the days [start, end) before as-of."""
        h = self.cum.shape[1] - 1
        return (self.cum[:, min(end, h)] - self.cum[:, min(start, h)]).astype(float)

    def total(self, start: int, end: int) -> float:
        return float(self.count(start, end).sum())


def load_history(conn, as_of: datetime, horizon: int = LOOKBACK_DAYS) -> History:
    """Everything the model reads, each piece one query; no incident at or after as_of."""
    grids = db.rows(
        conn,
        """
        SELECT g.code, ST_X(p) AS x, ST_Y(p) AS y, coalesce(h.n, 0) AS households
          FROM grid_current g
          CROSS JOIN LATERAL ST_Transform(ST_PointOnSurface(g.geom),
                             coalesce((SELECT metric_srid FROM jurisdiction LIMIT 1), 4545)) AS p
          LEFT JOIN (SELECT grid_code, count(*) AS n FROM household WHERE grid_code IS NOT NULL GROUP BY 1) h
                 ON h.grid_code = g.code
         ORDER BY g.code""",
    )
    if not grids:
        raise ForecastError("no current grids: import grids first (python -m geo import grids FILE)")
    codes = np.array([g["code"] for g in grids])  # sorted: ORDER BY code
    daily = daily_counts(conn, as_of, horizon, codes)
    cum = np.zeros((len(codes), horizon + 1), dtype=np.int32)
    np.cumsum(daily, axis=1, out=cum[:, 1:])
    busy = np.flatnonzero(daily.sum(axis=0))
    span = int(busy[-1]) + 1 if len(busy) else 0
    xy = np.array([(g["x"], g["y"]) for g in grids], dtype=float)
    return History(
        as_of=as_of,
        codes=codes,
        cum=cum,
        span=span,
        households=np.array([g["households"] for g in grids], dtype=float),
        neighbours=nearest(xy, NEIGHBOURS),
        wide=nearest(xy, WIDE_NEIGHBOURS),
    )


def daily_counts(conn, as_of: datetime, horizon: int, codes: np.ndarray) -> np.ndarray:
    """grids x days-back matrix of incidents reported before as_of.

    The aggregate's rows are streamed as they are (binary COPY; codes arrive as a
    Categorical) and summed here: at city scale incident_daily holds about one row per incident, so a
    GROUP BY in the server would hash two million rows (and spill to disk) only to send
    as many back; numpy adds them up in a few hundredths of a second.
    """
    from geo.io import binary_copy

    cols = binary_copy.read(
        conn,
        """
        SELECT grid_code::text AS code, incident_day(%(as_of)s) - day - 1 AS back, n
          FROM incident_daily
         WHERE day < incident_day(%(as_of)s) AND day >= incident_day(%(as_of)s) - %(horizon)s
           AND bucket <> 'cancelled' AND grid_code <> ''
        UNION ALL
        SELECT grid_code::text, 0, 1 FROM incident
         WHERE reported_at >= incident_day_start(incident_day(%(as_of)s)) AND reported_at < %(as_of)s
           AND status <> 'cancelled' AND grid_code IS NOT NULL""",
        {"as_of": as_of, "horizon": horizon},
        [("code", "text"), ("back", "int4"), ("n", "int4")],
    )
    grid = cols["code"]  # a Categorical: each distinct code once
    categories = np.asarray(grid.categories, dtype=object)
    at = np.searchsorted(codes, categories).clip(0, max(len(codes) - 1, 0))
    known = (codes[at] == categories) if len(codes) else np.zeros(len(categories), bool)
    row = np.where(known, at, -1)[grid.codes]
    back = cols["back"]
    keep = (row >= 0) & (back >= 0) & (back < horizon)
    flat = row[keep].astype(np.int64) * horizon + back[keep]
    summed = np.bincount(flat, weights=cols["n"][keep], minlength=len(codes) * horizon)  # ufunc.at is 10x slower
    daily = summed.reshape(len(codes), horizon).astype(np.int32)
    return daily


def nearest(xy: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k nearest other grids (by representative point), -1 where fewer exist.

    Nearest points rather than shared edges: fast for 20,000 grids (a k-d tree, no polygon
    adjacency to build), and a grid cut off by a gap in the coverage still has neighbours.
    """
    from scipy.spatial import cKDTree

    n = len(xy)
    if n < 2:
        return np.full((n, k), -1)
    kk = min(k + 1, n)
    _, idx = cKDTree(xy).query(xy, k=kk)
    idx = np.asarray(idx).reshape(n, kk)[:, 1:]
    if idx.shape[1] < k:
        idx = np.hstack([idx, np.full((n, k - idx.shape[1]), -1)])
    return idx


# --------------------------------------------------------------------------- features


def features(h: History, offset: int, days: int) -> tuple[np.ndarray, dict]:
    """The model's inputs for a cut-off `offset` days before as-of (only days >= offset are
    read), as a grids x FEATURES matrix, and the raw figures the explanation quotes."""
    o = offset
    n7, n28, n91, n365 = (h.count(o, o + w) for w in (7, 28, 91, 365))
    available = max(0, min(h.span - o, LONG_RUN_DAYS))
    long_run, since = level_since_change(h, o, available)
    long_run = long_run * 365
    nb91, nb_long, nb_households = (neighbour_mean(h.neighbours, v) for v in (n91, long_run, h.households))
    nb_wide = neighbour_mean(h.wide if h.wide is not None else h.neighbours, long_run)
    nb_rate = (nb_long + 1) / (nb_households + 1)  # the neighbourhood's yearly incidents per household
    season = seasonal_factor(h, o, days)
    recent = recent_count(h, o) * 7
    grid_season = grid_seasonal_ratio(h, o, days, long_run)
    x = np.column_stack(
        [
            np.log1p(recent),
            np.log1p(n7),
            np.log1p(n28),
            np.log1p(n91),
            np.log1p(n365),
            np.log1p(long_run),
            np.log1p(neighbour_mean(h.neighbours, recent)),
            np.log1p(nb91),
            np.log1p(nb_long),
            np.log1p(nb_wide),
            np.log(nb_rate),
            np.full(len(h.codes), math.log(season)),
            np.log(grid_season),
            np.log1p(h.households),
        ]
    )
    raw = dict(
        n7=n7,
        n28=n28,
        n91=n91,
        n365=n365,
        long_run=long_run,
        available=available,
        since=since,
        nb91=nb91,
        nb_wide=nb_wide,
        season=season,
        grid_season=grid_season,
    )
    return x, raw


CHANGE_WINDOWS = (14, 21, 28, 42, 56, 91, 182, 365, 730)
CHANGE_LLR = 10.0


def level_since_change(h: History, offset: int, available: int) -> tuple[np.ndarray, np.ndarray]:
    """Each grid's daily rate over its history, or since its level clearly changed, and the
    days that rate covers.

    A change is the split of the history (the last w days against the days before) with the
    highest Poisson likelihood ratio, taken only when that ratio is far beyond chance (log-
    likelihood ratio above CHANGE_LLR: a chance below 1e-5 for one split, about 1e-4 over the
    nine tried, so two or so of 20,000 steady grids): a new market that drew trouble three
    weeks ago, or a street quiet since its factory closed a year ago, then counts from the
    change, not from three years back. Found on tests/test_forecast_processes.py's new hot
    spot, which the plain three-year level missed (0.88 of the truth's catch, now 0.94).
    """
    n = len(h.codes)
    if available <= 0:
        return np.zeros(n), np.zeros(n, dtype=int)
    total = h.count(offset, offset + available)
    pace = total / available
    rate, since, best = pace.copy(), np.full(n, available), np.full(n, CHANGE_LLR)
    for w in CHANGE_WINDOWS:
        if w >= available:
            break
        inside = h.count(offset, offset + w)
        outside = total - inside
        with np.errstate(divide="ignore", invalid="ignore"):
            llr = np.where(inside > 0, inside * np.log(inside / (w * pace)), 0.0) + np.where(
                outside > 0, outside * np.log(outside / ((available - w) * pace)), 0.0
            )
        better = np.nan_to_num(llr) > best
        rate = np.where(better, inside / w, rate)
        since = np.where(better, w, since)
        best = np.where(better, llr, best)
    return rate, since


def recent_count(h: History, offset: int, days: int = 21) -> np.ndarray:
    """Incidents per day of the last few days, weighted by exp(-age / RECENT_DAYS): the
    trace of a flare-up that the 7-day count holds only flat (yesterday's three incidents
    say more about next week than three a week ago)."""
    weights = np.exp(-np.arange(days) / RECENT_DAYS)
    daily = np.diff(h.cum[:, offset : offset + days + 1], axis=1) if offset + days < h.cum.shape[1] else None
    if daily is None or daily.shape[1] < days:
        return np.zeros(len(h.codes))
    return daily @ (weights / weights.sum())


GRID_SEASON_AROUND = 91


def grid_seasonal_ratio(h: History, offset: int, days: int, long_run: np.ndarray, around: int | None = None) -> np.ndarray:
    """Each grid's own season: its incidents in the `around` days centred on the forecast
    window's dates a year earlier against its long-run pace over as many days, both plus
    one (a grid with few incidents says little and stays near 1); 1 without a year of
    history. A riverside street busy every summer differs from the jurisdiction's season."""
    around = around or GRID_SEASON_AROUND
    a = offset + 365 + (around + days) // 2  # the window a year earlier, widened to `around` days
    if a > h.span or a - around < offset:
        return np.ones(len(h.codes))
    last_year = h.count(a - around, a)
    return (last_year + 1) / (long_run / 365 * around + 1)


def neighbour_mean(neighbours: np.ndarray, values: np.ndarray) -> np.ndarray:
    valid = neighbours >= 0
    picked = np.where(valid, values[np.maximum(neighbours, 0)], 0.0)
    return picked.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)


def seasonal_factor(h: History, offset: int, days: int) -> float:
    """How much busier the N days after the cut-off's date a year earlier were than the 91
    days before that date, jurisdiction-wide; 1 without two years of history to tell."""
    a = offset + 365
    if a + SEASON_BASE_DAYS > h.span:
        return 1.0
    after = h.total(a - days, a)
    base = h.total(a, a + SEASON_BASE_DAYS) / SEASON_BASE_DAYS * days
    if base <= 0 or after <= 0:
        return 1.0
    return float(min(max(after / base, 0.25), 4.0))


# --------------------------------------------------------------------------- the model


@dataclass
class Fitted:
    """A fitted model and what it was fitted on."""

    method: str
    coef: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES)))
    mean: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES)))
    scale: np.ndarray = field(default_factory=lambda: np.ones(len(FEATURES)))
    intercept: float = 0.0
    rows: int = 0
    cutoffs: int = 0
    additive_coef: np.ndarray | None = None  # weights of the ADDITIVE counts (None: the GLM alone)
    additive_intercept: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        glm = np.exp(self.intercept + ((x - self.mean) / self.scale) @ self.coef)
        if self.additive_coef is None:
            return glm
        return (glm + self.additive(x)) / 2

    def additive(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(self.additive_intercept + additive_counts(x) @ self.additive_coef, 0.0)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Each feature's share of the log of the forecast, relative to an average grid."""
        return ((x - self.mean) / self.scale) * self.coef

    def describe(self) -> dict:
        return {
            "method": self.method,
            "features": list(FEATURES),
            "coefficients": {f: round(float(c), 4) for f, c in zip(FEATURES, self.coef)},
            "intercept": round(float(self.intercept), 4),
            "additive": None
            if self.additive_coef is None
            else {
                "coefficients": {f: round(float(c), 4) for f, c in zip((*ADDITIVE, "long_run_in_season"), self.additive_coef)},
                "intercept": round(float(self.additive_intercept), 4),
            },
            "training_rows": self.rows,
            "training_cutoffs": self.cutoffs,
        }


def training_offsets(h: History, offset: int, days: int) -> list[int]:
    """Weekly cut-offs before the forecast's own (`offset`) whose N following days are all
    before it, with at least 28 days of history behind them."""
    weeks = max(4, min(TRAIN_WEEKS, MAX_TRAIN_ROWS // max(len(h.codes), 1)))
    out = []
    for k in range(weeks):
        o = offset + days + 7 * k
        if o + 28 > h.span:
            break
        out.append(o)
    return out


def fit(h: History, offset: int, days: int) -> Fitted:
    """The Poisson GLM and its additive partner at the cut-off `offset` days before as-of;
    with too little history to fit them (under 4 weekly cut-offs, or no incident in the
    targets), the long-run rate.

    The forecast is the mean of the two. The GLM multiplies its terms (a grid's level times
    its trend times its season), the additive model adds them (a background plus what the
    last days' incidents here and next door bring, with non-negative weights: the shape of
    a self-exciting process); each is right where the other is wrong, and their mean was
    never far below the better of the two on the processes of tests/test_forecast_processes.py
    (docs/forecast.md)."""
    offsets = training_offsets(h, offset, days)
    if len(offsets) >= 4:
        x = np.vstack([features(h, o, days)[0] for o in offsets])
        y = np.concatenate([h.count(o - days, o) for o in offsets])
        if y.sum() > 0:
            fitted = _poisson(x, y, len(offsets))
            fitted.additive_coef, fitted.additive_intercept = _additive(x, y)
            return fitted
    return Fitted(method="long_run_rate")


def additive_counts(x: np.ndarray) -> np.ndarray:
    """The ADDITIVE columns of a feature matrix back in counts (the features are log1p),
    and the long-run level in season (times the grid's and the jurisdiction's season)."""
    counts = np.expm1(x[:, [FEATURES.index(f) for f in ADDITIVE]])
    in_season = np.expm1(x[:, FEATURES.index("long_run")]) * np.exp(
        x[:, FEATURES.index("grid_season")] + x[:, FEATURES.index("season")]
    )
    return np.column_stack([counts, in_season])


def _additive(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares with non-negative weights (scikit-learn's LinearRegression, positive=True)."""
    from sklearn.linear_model import LinearRegression

    model = LinearRegression(positive=True).fit(additive_counts(x), y)
    return model.coef_, float(model.intercept_)


def _poisson(x: np.ndarray, y: np.ndarray, cutoffs: int) -> Fitted:
    from sklearn.linear_model import PoissonRegressor

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = PoissonRegressor(alpha=1e-4, max_iter=100, solver="newton-cholesky")
    with warnings.catch_warnings():  # lbfgs may stop a hair short of its tolerance: harmless here
        warnings.simplefilter("ignore")
        model.fit((x - mean) / scale, y)
    return Fitted("poisson_glm", model.coef_, mean, scale, float(model.intercept_), len(y), cutoffs)


def predict(h: History, offset: int, days: int, fitted: Fitted | None = None) -> tuple[np.ndarray, Fitted, np.ndarray, dict]:
    """Expected incidents per grid in the N days after the cut-off `offset` days before as-of."""
    fitted = fitted or fit(h, offset, days)
    x, raw = features(h, offset, days)
    if fitted.method == "long_run_rate":
        expected = raw["long_run"] / 365 * days * raw["season"]
    else:
        expected = fitted.predict(x)
    return expected, fitted, x, raw


# --------------------------------------------------------------------------- the forecast


@dataclass
class Forecast:
    as_of: datetime
    days: int
    grids: list[dict]  # grid_code, expected, tier, reasons, rank, recent, rising
    model: dict
    seconds: float

    def to_json(self) -> dict:
        """The shape of `python -m geo forecast --json` (issue #16)."""
        return {
            "as_of": self.as_of.isoformat(),
            "days": self.days,
            "grids": [{k: g[k] for k in ("grid_code", "expected", "tier", "reasons")} for g in self.grids],
        }


def forecast(conn, as_of=None, days: int = 7) -> Forecast:
    """Per current grid, the expected incidents in the `days` days after `as_of` (default
    now; a date means 00:00 China time), from incidents reported before as-of only."""
    as_of = as_of_instant(as_of)
    days = check_days(days)
    from sklearn.linear_model import PoissonRegressor  # noqa: F401  (imported before the clock starts: a process pays it once)

    started = time.perf_counter()
    h = load_history(conn, as_of)
    expected, fitted, x, raw = predict(h, 0, days)
    grids = rank_and_explain(h, expected, fitted, x, raw, days)
    return Forecast(as_of, days, grids, fitted.describe(), time.perf_counter() - started)


def grid_names(conn) -> dict[str, str]:
    return {r["code"]: r["name"] for r in db.rows(conn, "SELECT code, name FROM grid_current")}


def tiers_by_rank(expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank (1 = most expected; ties by grid order) and tier of each grid: the top 5 % high,
    the next 15 % medium, the rest low, and low wherever nothing is expected."""
    n = len(expected)
    order = np.argsort(-expected, kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    top = max(1, math.ceil(TOP_SHARE * n))
    medium = max(top, math.ceil(MEDIUM_SHARE * n))
    tier = np.where(rank <= top, "high", np.where(rank <= medium, "medium", "low"))
    tier[np.asarray(expected) <= 0] = "low"  # nothing expected is never a warning, whatever its rank
    return rank, tier


def rank_and_explain(h: History, expected, fitted: Fitted, x, raw, days: int) -> list[dict]:
    rank, tier = tiers_by_rank(expected)
    recent = raw["n28"] / 28 * days
    rising = is_rising(expected, recent, days)
    contrib = fitted.contributions(x) if fitted.method == "poisson_glm" else np.zeros_like(x)
    out = []
    for i in np.argsort(rank):
        out.append(
            {
                "grid_code": str(h.codes[i]),
                "expected": round(float(expected[i]), 2),
                "tier": str(tier[i]),
                "reasons": reasons(i, raw, contrib, days, float(expected[i]), float(recent[i])),
                "rank": int(rank[i]),
                "recent": round(float(recent[i]), 2),
                "rising": bool(rising[i] and expected[i] > 0),
            }
        )
    return out


def is_rising(expected, recent, days: int):
    """The forecast is rising: 15 % and half an incident a week above the last 28 days' pace."""
    expected, recent = np.asarray(expected, float), np.asarray(recent, float)
    return (expected >= RISING_RATIO * recent) & (expected - recent >= RISING_MIN_PER_WEEK * days / 7)


def reasons(i: int, raw: dict, contrib: np.ndarray, days: int, expected: float, recent: float) -> list[str]:
    """Four short sentences (trend, neighbours, season, long-run level), the part that
    pushes this grid's forecast up the most first."""
    n28, n365, long_run = raw["n28"][i], raw["n365"][i], raw["long_run"][i]
    weekly_recent, weekly_year = n28 / 4, n365 / 52
    if is_rising(expected, recent, days):
        direction = "预测上升"
    elif weekly_year > 0 and weekly_recent > 1.3 * weekly_year:
        direction = "近期偏高"
    elif weekly_year > 0 and weekly_recent < 0.7 * weekly_year:
        direction = "近期偏低"
    else:
        direction = "平稳"
    season = raw["season"]
    season_text = (
        f"季节：去年同期比前三月{'高' if season >= 1 else '低'} {abs(season - 1):.0%}"
        if season != 1.0
        else "季节：历史不足两年，未计"
    )
    own = raw["grid_season"][i]
    if own != 1.0:
        season_text += f"；本网格去年同季为常年的 {own:.1f} 倍"
    texts = {
        "trend": f"近期趋势{direction}：近28天 {int(n28)} 起（周均 {weekly_recent:.1f}），近一年周均 {weekly_year:.1f}",
        "neighbours": f"周边：相邻 {NEIGHBOURS} 个网格近90天平均 {raw['nb91'][i]:.1f} 起",
        "season": season_text,
        "long_run": (
            f"长期水平：近 {int(raw['available'])} 天折合每周 {long_run / 52:.1f} 起"
            if raw["since"][i] >= raw["available"]
            else f"长期水平：近 {int(raw['since'][i])} 天起明显变化，此后折合每周 {long_run / 52:.1f} 起"
        ),
    }
    weight = {
        group: float(sum(contrib[i, FEATURES.index(f)] for f in members)) if contrib.size else 0.0
        for group, members in REASON_GROUPS.items()
    }
    return [texts[g] for g in sorted(texts, key=lambda g: -weight[g])]
