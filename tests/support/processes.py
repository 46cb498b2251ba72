"""Generating processes for the forecast's checks on data it has never seen (issue #16).

Each process is a daily intensity on a square lattice of grids, simulated day by day with a
fixed seed. For each forecast window it also gives the *true* expected count per grid,
conditional on everything before the window's cut-off (for the self-exciting process, the
expectation propagated exactly through its linear excitation), so a test can score a
ranking by the expected incidents it catches rather than by one noisy week.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from geo.forecast import model as fc


@dataclass
class Process:
    """`counts[g, d]`: incidents of grid g on day d (day 0 the first simulated day);
    `expected(cut, days)`: the true expected incidents per grid in days [cut, cut + days)
    given the history before day `cut`."""

    name: str
    side: int
    counts: np.ndarray
    rate: np.ndarray | None = None  # grids x days: the intensity (without excitation)
    hawkes: dict = field(default_factory=dict)

    @property
    def grids(self) -> int:
        return self.counts.shape[0]

    @property
    def days(self) -> int:
        return self.counts.shape[1]

    def expected(self, cut: int, days: int) -> np.ndarray:
        if not self.hawkes:
            return self.rate[:, cut : cut + days].sum(axis=1)
        hw = self.hawkes
        excite = hw["state"][:, cut].copy()
        total = np.zeros(self.grids)
        for d in range(cut, cut + days):
            mean = self.rate[:, d] + excite  # E[count that day], linear in the excitation
            total += mean
            spread = hw["alpha"] * mean
            excite = excite * hw["decay"] + spread + hw["beta"] * fc.neighbour_mean(hw["neighbours"], spread)
        return total


def lattice_xy(side: int, metres: float = 500.0) -> np.ndarray:
    n = side * side
    return np.array([(i % side, i // side) for i in range(n)], float) * metres


def smooth_field(rng, side: int, bumps: int = 8, width: float = 1.5) -> np.ndarray:
    """A smooth positive 'trouble' field on the lattice (in grid units)."""
    xy = lattice_xy(side, 1.0)
    centres = rng.uniform(0, side, (bumps, 2))
    amp = rng.lognormal(0, 0.8, bumps)
    return (amp * np.exp(-((xy[:, None, :] - centres[None]) ** 2).sum(-1) / (2 * width**2))).sum(1)


def poisson(rng, name: str, side: int, rate: np.ndarray) -> Process:
    return Process(name, side, rng.poisson(rate).astype(np.int32), rate=rate)


def skewed(seed: int, side: int = 20, days: int = 400) -> Process:
    """(a) Stationary Poisson, strongly skewed: a few hot grids, many near zero."""
    rng = np.random.default_rng(seed)
    n = side * side
    per_year = rng.lognormal(0, 1.6, n)  # a long right tail: the top 5 % hold about half the rate
    per_year *= 4000 / per_year.sum()
    return poisson(rng, "skewed", side, np.repeat((per_year / 365)[:, None], days, axis=1))


def trending(seed: int, side: int = 20, days: int = 540) -> Process:
    """(b) Rates trending up in some grids and down in others over months: each grid's
    rate changes by a factor between 1/4 and 4 a year."""
    rng = np.random.default_rng(seed)
    n = side * side
    level = rng.lognormal(0, 0.8, n) * 8 / 365
    slope = rng.normal(0, 0.7, n) / 365  # log rate per day: e^(0.7) ~ 2x a year for one sd
    t = np.arange(days) - days
    return poisson(rng, "trending", side, level[:, None] * np.exp(slope[:, None] * t[None, :]))


def seasonal(seed: int, side: int = 20, days: int = 113 * 7, start_weekday: int = 0) -> Process:
    """(c) Weekly and yearly seasonality: most grids busier on weekdays, market grids at
    weekends; a summer peak everywhere, stronger in some grids (riverside, night markets)
    and a winter one in others (heating disputes). Day 0 is a `start_weekday` (0 Monday)."""
    rng = np.random.default_rng(seed)
    n = side * side
    level = rng.lognormal(0, 0.8, n) * 10 / 365
    d = np.arange(days)
    weekday = (start_weekday + d) % 7
    market = rng.random(n) < 0.25
    week = np.where(market[:, None], np.where(weekday >= 5, 2.2, 0.7), np.where(weekday >= 5, 0.5, 1.2)[None, :])
    summer = rng.choice([0.8, 0.2, -0.5], n, p=[0.3, 0.4, 0.3])  # amplitude of a July peak (negative: winter)
    year = 1 + summer[:, None] * np.cos(2 * np.pi * (d[None, :] - (days - 150)) / 365)  # peak ~150 days before the end
    return poisson(rng, "seasonal", side, level[:, None] * week * year)


def hawkes(
    seed: int, side: int = 20, days: int = 500, alpha: float = 0.06, decay_days: float = 7.0, beta: float = 0.5
) -> Process:
    """(d) Self-exciting: each incident raises its grid's daily rate by `alpha`, decaying
    over `decay_days`, and each neighbour's by `beta` times that (branching ratio about
    alpha * decay_days * (1 + beta))."""
    rng = np.random.default_rng(seed)
    n = side * side
    base = (0.1 + smooth_field(rng, side)) * 0.01
    rate = np.repeat(base[:, None], days, axis=1)
    neighbours = fc.nearest(lattice_xy(side), fc.NEIGHBOURS)
    decay = math.exp(-1 / decay_days)
    excite = np.zeros(n)
    counts = np.zeros((n, days), np.int32)
    state = np.zeros((n, days + 1))
    for d in range(days):
        state[:, d] = excite
        c = rng.poisson(rate[:, d] + excite)
        counts[:, d] = c
        spread = alpha * c
        excite = excite * decay + spread + beta * fc.neighbour_mean(neighbours, spread)
    state[:, days] = excite
    return Process(
        "hawkes", side, counts, rate=rate, hawkes=dict(state=state, alpha=alpha, decay=decay, beta=beta, neighbours=neighbours)
    )


def sparse(seed: int, side: int, incidents: int = 300, days: int = 365) -> Process:
    """(e) Sparse: a few hundred incidents a year over many grids, from a smooth field."""
    rng = np.random.default_rng(seed)
    field_ = smooth_field(rng, side, bumps=max(3, side // 3), width=max(1.0, side / 12))
    per_day = field_ / field_.sum() * incidents / 365
    return poisson(rng, "sparse", side, np.repeat(per_day[:, None], days, axis=1))


def new_hotspot(seed: int, side: int = 20, days: int = 400, since: int = 21, window: int = 7) -> Process:
    """(f) A stationary skewed process, and a new hot spot `since` days before the last
    `window` days: a few neighbouring grids jump to one and a half times the rate of the
    busiest 2 % of grids."""
    rng = np.random.default_rng(seed)
    n = side * side
    per_day = rng.lognormal(0, 1.0, n) * 10 / 365
    rate = np.repeat(per_day[:, None], days, axis=1)
    centre = int(rng.integers(n))
    spot = np.argsort(((lattice_xy(side) - lattice_xy(side)[centre]) ** 2).sum(1))[:4]
    rate[spot, days - window - since :] = np.quantile(per_day, 0.98) * 1.5
    return poisson(rng, "new_hotspot", side, rate)


def level_shift(seed: int, side: int = 20, days: int = 3 * 365 + 30, shift_at: int = 365, window: int = 7) -> Process:
    """(g) Three years of history; `shift_at` days before the last `window` days a third of
    the grids changed level (half up, half down, by 2.5 to 4 times)."""
    rng = np.random.default_rng(seed)
    n = side * side
    per_day = rng.lognormal(0, 0.8, n) * 6 / 365
    factor = np.ones(n)
    moved = rng.random(n) < 1 / 3
    up = rng.random(n) < 0.5
    size = rng.uniform(2.5, 4.0, n)
    factor[moved & up] = size[moved & up]
    factor[moved & ~up] = 1 / size[moved & ~up]
    rate = np.repeat(per_day[:, None], days, axis=1)
    rate[:, days - window - shift_at :] *= factor[:, None]
    return poisson(rng, "level_shift", side, rate)


def bursty(seed: int, side: int = 20, days: int = 500, shape: float = 0.3) -> Process:
    """(h) Overdispersed: each grid's steady rate (a smooth field times a grid's own factor)
    times a gamma-distributed factor per grid and day (shape 0.3: most days quiet, some with
    a burst, as group disputes come), so counts are far more variable than Poisson."""
    rng = np.random.default_rng(seed)
    n = side * side
    base = (0.1 + smooth_field(rng, side)) * rng.lognormal(0, 0.5, n) * 0.02
    rate = np.repeat(base[:, None], days, axis=1)
    counts = rng.poisson(rate * rng.gamma(shape, 1 / shape, rate.shape)).astype(np.int32)
    return Process("bursty", side, counts, rate=rate)


def moving_hotspot(seed: int, side: int = 20, days: int = 500, speed: float = 1 / 30, peak: float = 0.4) -> Process:
    """(i) A hot spot drifting across the lattice (one grid every 30 days, wrapping at the
    edges), adding up to `peak` incidents a day around it, over a skewed steady background:
    a market or a construction front that moves on."""
    rng = np.random.default_rng(seed)
    n = side * side
    xy = lattice_xy(side, 1.0)
    rate = np.repeat((rng.lognormal(0, 0.7, n) * 8 / 365)[:, None], days, axis=1)
    start, heading = rng.uniform(0, side, 2), rng.normal(0, 1, 2)
    heading *= speed / np.linalg.norm(heading)
    for d in range(days):
        centre = (start + heading * d) % side
        rate[:, d] += peak * np.exp(-((xy - centre) ** 2).sum(1) / 2)
    return Process("moving_hotspot", side, rng.poisson(rate).astype(np.int32), rate=rate)
