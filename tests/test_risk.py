"""Risk tiers: incident scoring at the thresholds, reasons, configuration changes, grid tiers
that follow their incidents, and the key list. Real PostGIS, tiny geometries."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from geo import db
from geo.incidents import lifecycle
from geo.risk import tiers as risk
from tests.support.risk import BOX_A, GRID_A, GRID_B, NOW, add_incident


def incident_risk(conn, incident_id: int) -> dict:
    return db.one(conn, "SELECT risk_score, risk_tier, risk_reasons FROM incident WHERE id = %s", (incident_id,))


def with_incident_thresholds(high, medium) -> dict:
    cfg = copy.deepcopy(risk.read_config())
    cfg["incident"].update(high=high, medium=medium)
    return cfg


# --------------------------------------------------------------------------- incidents


def test_reasons_name_every_factor_with_its_input_and_points(world):
    # 35 people (band 30: +20), 40 days (band 30: +8), 激烈 (+12), 婚姻家庭纠纷 severity 3 (+7).
    i = add_incident(world, people=35, duration=40, intensity=2, behaviour=0)
    r = incident_risk(world, i)
    assert r["risk_reasons"] == ["涉事 35 人（+20）", "持续 40 天（+8）", "冲突程度 激烈（+12）", "类别严重程度 3 级（+7）"]
    assert r["risk_score"] == 47
    assert r["risk_tier"] == "high"


def test_band_minimums_are_inclusive(world):
    below = incident_risk(world, add_incident(world, people=4, duration=6))
    at = incident_risk(world, add_incident(world, people=5, duration=7))
    assert below["risk_reasons"] == ["涉事 4 人（+4）", "类别严重程度 3 级（+7）"]
    assert at["risk_reasons"] == ["涉事 5 人（+10）", "持续 7 天（+4）", "类别严重程度 3 级（+7）"]


@pytest.mark.parametrize(
    "high, medium, tier",
    [
        (47, 20, "high"),  # exactly at the high threshold
        (47.5, 47, "medium"),  # just above it, exactly at medium
        (60, 47.5, "low"),  # below both
    ],
)
def test_tier_boundaries_exactly_at_the_thresholds(world, high, medium, tier):
    i = add_incident(world, people=35, duration=40, intensity=2)  # 47 points
    risk.store_config(world, with_incident_thresholds(high, medium))
    assert incident_risk(world, i)["risk_tier"] == tier


def test_a_configuration_change_recomputes_every_tier(world):
    ids = [add_incident(world, people=35, duration=40, intensity=2), add_incident(world, people=1)]
    assert [incident_risk(world, i)["risk_tier"] for i in ids] == ["high", "low"]
    changed = risk.store_config(world, with_incident_thresholds(100, 5))
    assert changed["incidents"] == 2
    assert [incident_risk(world, i)["risk_tier"] for i in ids] == ["medium", "medium"]


def test_an_update_of_a_factor_re_tiers_the_incident(world):
    i = add_incident(world, people=1)
    assert incident_risk(world, i)["risk_tier"] == "low"
    db.execute(world, "UPDATE incident SET conflict_intensity = 3, behaviour_risk = 3, people_involved = 5 WHERE id = %s", (i,))
    world.commit()
    r = incident_risk(world, i)
    assert r["risk_score"] == 10 + 20 + 22 + 7
    assert "当事人思想行为 扬言极端（+22）" in r["risk_reasons"]


def test_escalation_and_repeated_returns_raise_the_score(world):
    i = add_incident(world, status="dispatched")
    base = incident_risk(world, i)["risk_score"]
    lifecycle.transition(world, i, "returned", actor="测试")
    assert incident_risk(world, i)["risk_reasons"][-1] == "处置被退回（+8）"
    lifecycle.transition(world, i, "dispatched", actor="测试")
    lifecycle.transition(world, i, "returned", actor="测试")
    # The second return counts at once (0011 re-assesses when the history row is written).
    assert incident_risk(world, i)["risk_reasons"][-2:] == ["处置被退回（+8）", "2 次调解未果（+12）"]
    lifecycle.transition(world, i, "dispatched", actor="测试")
    r = incident_risk(world, i)
    assert r["risk_score"] == base + 2 * 6
    assert r["risk_reasons"][-1] == "2 次调解未果（+12）"
    assert risk.recompute_incidents(world) == 0  # the set-based recompute agrees
    lifecycle.transition(world, i, "escalated", actor="测试")
    assert incident_risk(world, i)["risk_reasons"][-2:] == ["已升级上报（+10）", "2 次调解未果（+12）"]


def test_without_configuration_incidents_stay_unassessed(clean_db, categories, tiny_jurisdiction, add_grids):
    add_grids([(GRID_A, "A网格", "urban", BOX_A)])
    i = add_incident(clean_db)
    assert incident_risk(clean_db, i) == {"risk_score": None, "risk_tier": None, "risk_reasons": None}


def test_bad_configuration_is_refused_with_the_faulty_key(tmp_path):
    cfg = risk.read_config()
    del cfg["incident"]["people"]
    with pytest.raises(risk.RiskConfigError, match="people"):
        risk.validate(cfg)
    cfg = risk.read_config()
    cfg["grid"]["mode"] = "ranking"
    with pytest.raises(risk.RiskConfigError, match="mode"):
        risk.validate(cfg)
    bad = tmp_path / "risk.toml"
    bad.write_text("[incident\n", encoding="utf-8")
    with pytest.raises(risk.RiskConfigError, match="TOML"):
        risk.read_config(bad)


# --------------------------------------------------------------------------- grids


def grid_row(conn, code):
    return db.one(conn, "SELECT score, tier, factors, reasons, computed_at FROM grid_risk WHERE grid_code = %s", (code,))


def test_grid_tier_rises_with_a_high_incident_and_falls_when_closed_and_aged_out(world):
    assert grid_row(world, GRID_A)["tier"] == "low"
    b_before = grid_row(world, GRID_B)
    i = add_incident(world, people=35, duration=40, intensity=2)  # high; the trigger recomputes grid A only
    a = grid_row(world, GRID_A)
    # key list 20 + one high incident of age ~0 weighing 10.
    assert a["score"] == pytest.approx(30, abs=0.1)
    assert a["tier"] == "medium"
    assert a["factors"]["key_list"] == {"label": "重点清单", "value": 1, "points": 20, "text": "未化解高风险事项 1 件"}
    assert a["reasons"][0] == "未化解高风险事项 1 件（+20.0）"  # grid points carry one decimal
    assert grid_row(world, GRID_B)["computed_at"] == b_before["computed_at"]

    for to in ("verified", "closed"):
        lifecycle.transition(world, i, to, actor="测试")
    closed = grid_row(world, GRID_A)
    assert closed["factors"]["key_list"]["points"] == 0
    assert closed["tier"] == "low"
    risk.recompute_grids(world, [GRID_A], as_of=NOW + timedelta(days=91))  # out of the 90-day window
    aged = grid_row(world, GRID_A)
    assert aged["score"] == 0 and aged["tier"] == "low"
    assert aged["reasons"] == ["无明显风险因素"]


def test_a_second_high_incident_makes_the_grid_high(world):
    add_incident(world, people=35, duration=40, intensity=2)
    add_incident(world, people=35, duration=40, intensity=2)
    assert grid_row(world, GRID_A)["tier"] == "high"  # 2 x 20 key list + 2 x 10 incidents = 60 >= 45


def test_incidents_decay_with_their_half_life(world):
    add_incident(world, people=5, status="closed", reported_at=NOW - timedelta(days=30))  # medium? 10 + 7 = 17: low
    risk.recompute_grids(world, as_of=NOW)
    f = grid_row(world, GRID_A)["factors"]["incidents"]
    assert f["value"] == pytest.approx(0.5 * 0.5, abs=0.01)  # low weight 0.5, halved after 30 days


def test_grid_factors_count_key_persons_dangerous_things_and_sensitive_places(world):
    p = BOX_A.centroid.wkt
    with db.transaction(world) as cur:
        for kind, category, tier in (
            ("key_person", "社区矫正对象", 1),
            ("key_person", "吸毒人员", 3),
            ("dangerous_thing", "加油站", 2),
            ("sensitive_place", "学校", 2),
        ):
            cur.execute(
                """INSERT INTO place (kind, category, name, tier, grid_code, admin_code, geom)
                           VALUES (%s, %s, '测试', %s, %s, left(%s, 12), ST_GeomFromText(%s, 4326))""",
                (kind, category, tier, GRID_A, GRID_A, p),
            )
    risk.recompute_grids(world)
    f = grid_row(world, GRID_A)["factors"]
    assert f["key_persons"] == {"label": "重点人员", "value": 3.3, "points": 6.6, "text": "重点人员 2 人（一级管控 1 人）"}
    assert (f["dangerous"]["points"], f["sensitive"]["points"]) == (5, 2)
    assert grid_row(world, GRID_A)["score"] == pytest.approx(6.6 + 5 + 2)


def test_quantile_mode_makes_the_top_share_high(world):
    add_incident(world, people=35, duration=40, intensity=2)
    cfg = risk.read_config()
    cfg["grid"].update(mode="quantile", high_share=0.5, medium_share=0.2)
    risk.store_config(world, cfg)
    assert (grid_row(world, GRID_A)["tier"], grid_row(world, GRID_B)["tier"]) == ("high", "low")


def test_key_list_has_owner_deadline_and_days_open(world):
    add_incident(world, people=35, duration=40, intensity=2, reported_at=NOW - timedelta(days=3))
    add_incident(world, people=1)
    rows = risk.key_list(world)
    assert len(rows) == 1
    assert rows[0]["owner"] == "司法所" and rows[0]["days_open"] in (3, 4)
    assert rows[0]["deadline"] is not None and rows[0]["town_code"] == "620802001"


def test_summary_counts_grids_and_incidents_by_tier(world):
    add_incident(world, people=35, duration=40, intensity=2)
    s = risk.summary(world)
    assert s["grids"] == {"high": 0, "medium": 1, "low": 1, "none": 0}
    assert s["incidents"]["high"] == 1 and s["key_list"] == 1
    assert s["top"][0]["grid_code"] == GRID_A


# --------------------------------------------------------------------------- demo


def test_demo_tiers_are_plausible(demo_conn):
    risk.load_config(demo_conn)
    s = risk.summary(demo_conn)
    assert 0.005 <= s["grid_share"]["high"] <= 0.04, s["grid_share"]
    assert 0.05 <= s["grid_share"]["medium"] <= 0.25, s["grid_share"]
    total = sum(s["incidents"].values())
    assert s["incidents"]["none"] == 0
    assert 0.01 <= s["incidents"]["high"] / total <= 0.06
    assert all(r["reasons"] for r in s["top"])
