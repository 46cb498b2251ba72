"""Emerging hotspots: the Mann-Kendall trend and the ArcGIS-like patterns."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from geo.analysis import emerging
from geo.worktime import CST
from tests.support.drill import COMMUNITY, add_incidents, lattice


def test_mann_kendall_equals_scipys_kendall_tau_without_ties():
    rng = np.random.default_rng(5)
    series = rng.normal(size=(20, 26)) + np.linspace(0, 2, 26)
    s, z, p = emerging.mann_kendall(series)
    for k in range(20):
        tau = stats.kendalltau(np.arange(26), series[k], method="asymptotic")
        assert s[k] == pytest.approx(tau.statistic * 26 * 25 / 2)
        assert p[k] == pytest.approx(tau.pvalue, abs=1e-9)


def test_mann_kendall_known_example():
    """1..10 strictly rising: S = 45, Var = 10*9*25/18 = 125, z = 45/sqrt(125)."""
    s, z, _ = emerging.mann_kendall(np.arange(10.0))
    assert s[0] == 45 and z[0] == pytest.approx(45 / np.sqrt(125))


def flags(text: str) -> np.ndarray:
    return np.array([c == "x" for c in text])


@pytest.mark.parametrize(
    "hot, cold, trend_z, pattern",
    [
        ("..........", "..........", 0, "none"),
        (".........x", "..........", 0, "new_hot"),
        ("......xxxx", "..........", 0, "consecutive_hot"),
        ("xxxxxxxxxx", "..........", 3, "intensifying_hot"),
        ("xxxxxxxxxx", "..........", 0, "persistent_hot"),
        ("xxxxxxxxxx", "..........", -3, "diminishing_hot"),
        ("xx..x...xx", "..........", 0, "sporadic_hot"),
        ("xx......xx", "...xx.....", 0, "oscillating_hot"),
        ("xxxxxxxxx.", "..........", 0, "historical_hot"),
        ("..........", ".........x", 0, "new_cold"),
        ("..........", "xxxxxxxxxx", -3, "intensifying_cold"),
    ],
)
def test_patterns(hot, cold, trend_z, pattern):
    p = 0.001 if trend_z else 0.9
    assert emerging.classify(flags(hot), flags(cold), trend_z, p) == pattern
    assert pattern in emerging.LABELS


def test_a_corner_that_heats_up_in_the_last_weeks_is_new_or_consecutive(tiny_jurisdiction, conn, add_grids, categories):
    add_grids(lattice(5))
    end = date(2026, 7, 31)
    for week in range(8):  # a little everywhere every week, so each week has variance
        day = datetime(2026, 7, 31, 10, tzinfo=CST) - timedelta(weeks=week)
        add_incidents(
            conn,
            [(106.651 + 0.002 * c, 35.532 + 0.004 * r) for r in range(5) for c in range(5) if (r + c + week) % 3 == 0],
            reported_at=day,
        )
    last = datetime(2026, 7, 30, 10, tzinfo=CST)
    add_incidents(conn, [(106.651, 35.532)] * 12 + [(106.653, 35.532)] * 10 + [(106.651, 35.536)] * 10, reported_at=last)
    add_incidents(
        conn,
        [(106.651, 35.532)] * 12 + [(106.653, 35.532)] * 10 + [(106.651, 35.536)] * 10,
        reported_at=last - timedelta(weeks=1),
    )
    result = emerging.emerging(conn, end=end, weeks=8).set_index("code")
    assert result.loc[f"{COMMUNITY}001", "pattern"] == "consecutive_hot"
    assert result.loc[f"{COMMUNITY}025", "pattern"] in ("none", "sporadic_cold", "new_cold", "consecutive_cold")
    assert result.attrs["weeks"] == 8


def test_weeks_are_bounded(tiny_jurisdiction, conn, add_grids):
    add_grids(lattice(2))
    with pytest.raises(ValueError):
        emerging.emerging(conn, weeks=1)


def test_demo_emerging_over_26_weeks(demo_conn):
    result = emerging.emerging(demo_conn, weeks=26)
    assert len(result) > 1500
    assert set(result["pattern"]) <= set(emerging.LABELS)
    assert (result["pattern"] != "none").sum() > 0
