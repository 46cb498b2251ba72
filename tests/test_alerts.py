"""Alarm rules on their boundaries, once per trigger, escalation by time, the lifecycle and
row-level security (issue #16 items 1-2), against real PostGIS.

Points are placed at exact geodesic distances (pyproj's WGS84 Geod, the same spheroid as
PostGIS geography), so "499 m fires, 501 m does not" is what is tested.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg2
import pytest
from pyproj import Geod

from geo import db
from geo import pgserver as cluster
from geo.alerts import evaluation, lifecycle, rules
from geo.incidents import dispatch
from geo.risk import tiers as risk
from geo.security import access
from geo.worktime import CST
from tests.support.loop import GRID_SW, GRID_VILLAGE, IN_SW, IN_VILLAGE

GEOD = Geod(ellps="WGS84")
WEST, EAST = "620802001001", "620802001002"


def at(metres_north: float, metres_east: float = 0.0, origin=IN_SW) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(*origin, 0, metres_north)
    lon, lat, _ = GEOD.fwd(lon, lat, 90, metres_east)
    return lon, lat


@pytest.fixture
def world(loop_world):
    risk.load_config(loop_world)
    rules.load_config(loop_world)
    return loop_world


def now() -> datetime:
    return datetime.now(CST)


def report(conn, where=IN_SW, minor="0103", hours_ago: float = 1.0, source="operator", **kw) -> int:
    return dispatch.create_incident(
        conn,
        lon=where[0],
        lat=where[1],
        minor_code=minor,
        actor="test",
        source=source,
        reported_at=now() - timedelta(hours=hours_ago),
        **kw,
    )


def alarms(conn, rule: str | None = None) -> list[dict]:
    return lifecycle.list_alerts(conn, status=None, rule=rule)


def linked(conn, alert_id: int) -> list[int]:
    return [i["id"] for i in lifecycle.get(conn, alert_id)["incidents"]]


# --------------------------------------------------------------------------- rules


def test_cluster_fires_at_the_third_incident_within_500_m_and_24_h(world):
    first = report(world, at(0), hours_ago=23.9)
    second = report(world, at(499), hours_ago=10)
    assert alarms(world, "cluster") == []  # two are not a cluster
    third = report(world, at(250), hours_ago=1)
    [alarm] = alarms(world, "cluster")
    assert sorted(linked(world, alarm["id"])) == [first, second, third]
    assert alarm["level"] == 3 and alarm["title"] == "聚集苗头：矛盾纠纷 3 起"
    assert "500 米内 24 小时内同类（矛盾纠纷）事件 3 起" in alarm["reasons"][0]
    fourth = report(world, at(100), hours_ago=0.5)  # joins the open alarm, raises no second one
    [alarm] = alarms(world, "cluster")
    assert fourth in linked(world, alarm["id"])


def test_a_cluster_across_a_unit_boundary_is_one_alarm_whose_links_carry_both_units(world):
    """A group alarm belongs to the unit of the incident that raised it, its links to their
    incidents' units as well (row-level security), and carry the alarm's own (0099):
    alert_group finds the open alarm a new incident joins through that key, here through
    links whose incidents lie in the other unit than the alarm."""
    a = report(world, at(0, 0), hours_ago=3)  # west community, the grid's east edge 453 m away
    b = report(world, at(0, 100), hours_ago=2)
    c = report(world, at(0, 480), hours_ago=1)  # in the village: raises the alarm with a and b
    d = report(world, at(0, -300), hours_ago=0.5)  # a and b within 500 m, c not: joins through theirs
    [alarm] = alarms(world, "cluster")
    assert alarm["admin_code"] == EAST
    assert sorted(linked(world, alarm["id"])) == [a, b, c, d]
    links = db.rows(world, "SELECT incident_id, admin_code, alert_admin_code FROM alert_incident ORDER BY incident_id")
    assert [(r["incident_id"], r["admin_code"], r["alert_admin_code"]) for r in links] == [
        (a, WEST, EAST),
        (b, WEST, EAST),
        (c, EAST, EAST),
        (d, WEST, EAST),
    ]
    db.execute(world, "UPDATE alert SET admin_code = %s WHERE id = %s", (WEST, alarm["id"]))  # no path does; the owner could
    assert db.scalar(world, "SELECT array_agg(DISTINCT alert_admin_code) FROM alert_incident") == [WEST]
    world.rollback()


@pytest.mark.parametrize(
    "second, why",
    [
        (dict(where=at(501)), "501 m away"),
        (dict(where=at(100), hours_ago=24.3), "24 h 6 min before the newest"),
        (dict(where=at(100), minor="0211"), "another major category"),
    ],
)
def test_cluster_counts_nothing_beyond_its_radius_window_or_category(world, second, why):
    report(world, at(0), hours_ago=0.5)
    report(world, **second)
    report(world, at(-100), hours_ago=0.2)
    assert alarms(world, "cluster") == [], why


def test_crowd_fires_at_30_people_not_29(world):
    report(world, people_involved=29)
    assert alarms(world, "crowd") == []
    iid = report(world, at(1100), people_involved=30)
    [alarm] = alarms(world, "crowd")
    assert linked(world, alarm["id"]) == [iid] and alarm["title"].endswith("（30 人）")


def test_a_new_high_tier_incident_raises_an_alarm_and_a_medium_one_does_not(world):
    medium = report(world, minor="0102", conflict_intensity=2, people_involved=3)
    high = report(world, at(1000), minor="0102", conflict_intensity=3, behaviour_risk=3)
    tiers = {r["id"]: r["risk_tier"] for r in db.rows(world, "SELECT id, risk_tier FROM incident")}
    assert (tiers[medium], tiers[high]) == ("medium", "high")
    [alarm] = alarms(world, "high_incident")
    assert linked(world, alarm["id"]) == [high] and alarm["level"] == 2
    assert any("肢体冲突" in r or "扬言极端" in r for r in alarm["reasons"])  # the risk model's reasons


def test_history_loaded_long_after_the_fact_raises_nothing(world):
    report(world, minor="0102", conflict_intensity=3, behaviour_risk=3, hours_ago=73)  # max_age_hours = 72
    assert alarms(world) == []


def test_a_record_closed_before_it_is_written_raises_nothing_but_counts_as_a_neighbour(world):
    with db.transaction(world) as cur:  # as an import of closed 12345 records writes them
        for metres in (0, 100):
            cur.execute(
                """INSERT INTO incident (title, minor_code, source, reported_at, status, closed_at, people_involved,
                                         grid_code, admin_code, geom)
                   VALUES ('已结案记录', '0103', 'import', now() - interval '2 hours', 'closed', now(), 50, %s, %s,
                           ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                (GRID_SW, WEST, *at(metres)),
            )
    assert alarms(world) == []  # 50 people, but closed: no crowd alarm
    report(world, at(200))
    assert [a["detail"]["count"] for a in alarms(world, "cluster")] == [3]


def test_joint_warning_needs_two_sources_at_one_place_within_72_h(world):
    report(world, at(0), source="open311", hours_ago=71)
    report(world, at(99), source="open311", hours_ago=1)
    assert alarms(world, "joint") == []  # one source twice
    report(world, at(-101), source="hotline", hours_ago=1)
    assert alarms(world, "joint") == []  # another source, but 101 m away
    third = report(world, at(40, 40), source="operator", hours_ago=0.5)
    [alarm] = alarms(world, "joint")
    assert third in linked(world, alarm["id"])
    assert alarm["detail"]["sources"] == ["open311", "operator"]
    assert "开放接口、中心录入" in alarm["reasons"][0]


def test_joint_warning_by_the_same_party_anywhere(world):
    report(world, at(0), source="police", reporter_phone="138-0000-1234", hours_ago=5)
    assert alarms(world, "joint") == []
    report(world, IN_VILLAGE, minor="0211", source="hotline", reporter_phone="13800001234")
    [alarm] = alarms(world, "joint")
    assert alarm["detail"]["sources"] == ["hotline", "police"]


def test_repeat_fires_at_the_third_report_at_one_place_within_30_days(world):
    report(world, at(0), hours_ago=29 * 24)
    report(world, at(49), minor="0211", hours_ago=10 * 24)
    report(world, at(-51), hours_ago=2)  # 51 m: another place
    assert alarms(world, "repeat") == []
    report(world, at(20), minor="0105", hours_ago=1)
    [alarm] = alarms(world, "repeat")
    assert alarm["detail"]["count"] == 3


def test_a_trigger_fires_once_however_often_it_is_evaluated(world):
    ids = [report(world, at(d), source=s, hours_ago=1) for d, s in ((0, "hotline"), (10, "police"), (20, "patrol"))]
    ids.append(report(world, IN_VILLAGE, minor="0102", conflict_intensity=3, behaviour_risk=3))
    before = {(a["rule"], a["id"]) for a in alarms(world)}
    assert {r for r, _ in before} == {"cluster", "joint", "repeat", "high_incident"}
    for _ in range(2):
        assert evaluation.evaluate(world, ids) == 0
    assert {(a["rule"], a["id"]) for a in alarms(world)} == before
    keys = db.rows(world, "SELECT trigger_key FROM alert")
    assert len(keys) == len({k["trigger_key"] for k in keys}) == 4


def test_a_grid_rising_to_high_raises_one_alarm_a_day(world):
    risk.recompute_grids(world)
    assert alarms(world, "grid_high") == []  # the first computation is a baseline
    with db.transaction(world) as cur:
        cur.execute("UPDATE grid_risk SET tier = 'medium' WHERE grid_code = %s", (GRID_SW,))
        cur.execute("UPDATE grid_risk SET tier = 'high' WHERE grid_code = %s", (GRID_SW,))
        cur.execute("UPDATE grid_risk SET tier = 'medium' WHERE grid_code = %s", (GRID_SW,))
        cur.execute("UPDATE grid_risk SET tier = 'high' WHERE grid_code = %s", (GRID_SW,))
    [alarm] = alarms(world, "grid_high")
    assert alarm["grid_code"] == GRID_SW and alarm["title"] == "网格升为高风险：新民社区第一网格"


def test_overdue_high_incident_alarm_from_the_tick(world):
    iid = report(world, minor="0102", conflict_intensity=3, behaviour_risk=3)
    deadline = db.scalar(world, "SELECT deadline FROM incident WHERE id = %s", (iid,))
    evaluation.tick(world, now=deadline - timedelta(minutes=1))
    assert alarms(world, "overdue_high") == []
    evaluation.tick(world, now=deadline + timedelta(minutes=1))
    evaluation.tick(world, now=deadline + timedelta(minutes=2))
    [alarm] = alarms(world, "overdue_high")
    assert linked(world, alarm["id"]) == [iid]


def test_an_overdue_backlog_older_than_the_lookback_raises_nothing(world):
    iid = report(world, minor="0102", conflict_intensity=3, behaviour_risk=3)
    deadline = db.scalar(world, "SELECT deadline FROM incident WHERE id = %s", (iid,))
    evaluation.tick(world, now=deadline + timedelta(hours=24, minutes=1))
    assert alarms(world, "overdue_high") == []


def test_an_unacknowledged_alarm_escalates_one_level_per_ack_time(world):
    report(world, people_involved=30)  # crowd: orange (2), 15 minutes
    [alarm] = alarms(world, "crowd")
    due = alarm["ack_due"]
    assert due - alarm["raised_at"] == timedelta(minutes=15)
    assert evaluation.tick(world, now=due - timedelta(seconds=1))["escalated"] == 0
    assert evaluation.tick(world, now=due)["escalated"] == 1
    alarm = lifecycle.get(world, alarm["id"])
    assert (alarm["level"], alarm["escalations"]) == (1, 1)
    assert alarm["ack_due"] == due + timedelta(minutes=15)
    assert "超时未签收，已升级 1 次" in alarm["reasons"]
    evaluation.tick(world, now=due + timedelta(minutes=15))
    alarm = lifecycle.get(world, alarm["id"])
    assert (alarm["level"], alarm["escalations"]) == (1, 2)  # red is the top
    assert [a["id"] for a in lifecycle.list_alerts(world, escalated_only=True)] == [alarm["id"]]


def test_an_acknowledged_alarm_does_not_escalate(world):
    report(world, people_involved=30)
    [alarm] = alarms(world, "crowd")
    lifecycle.acknowledge(world, alarm["id"], "值班员王")
    assert evaluation.tick(world, now=alarm["ack_due"] + timedelta(hours=1))["escalated"] == 0


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle_ack_handle_close_with_history_and_audit(world):
    iid = report(world, people_involved=30)
    [alarm] = alarms(world, "crowd")
    mark = db.scalar(world, "SELECT coalesce(max(id), 0) FROM audit_log")
    acked = lifecycle.acknowledge(world, alarm["id"], "值班员王")
    assert acked["status"] == "acknowledged" and acked["acked_by"] == "值班员王" and acked["acked_at"] is not None
    handled = lifecycle.handle(world, alarm["id"], "值班员王", "派社区调解")
    assert handled["status"] == "handling"
    assert db.scalar(world, "SELECT status FROM incident WHERE id = %s", (iid,)) == "dispatched"
    with pytest.raises(lifecycle.AlertError, match="needs a note"):
        lifecycle.close(world, alarm["id"], "值班员王", " ")
    closed = lifecycle.close(world, alarm["id"], "值班员王", "已调解，群众散去")
    assert closed["status"] == "closed" and closed["close_note"] == "已调解，群众散去"
    with pytest.raises(lifecycle.AlertError, match="closed -> acknowledged is not allowed"):
        lifecycle.acknowledge(world, alarm["id"], "值班员王")
    steps = [(h["action"], h["from_status"], h["to_status"], h["actor"]) for h in lifecycle.history(world, alarm["id"])]
    assert steps[1:] == [
        ("ack", "new", "acknowledged", "值班员王"),
        ("handle", "acknowledged", "handling", "值班员王"),
        ("close", "handling", "closed", "值班员王"),
    ]
    audit = db.rows(world, "SELECT action, target FROM audit_log WHERE id > %s AND action LIKE 'alert.%%' ORDER BY id", (mark,))
    assert [a["action"] for a in audit] == ["alert.ack", "alert.handle", "alert.close"]
    assert {a["target"] for a in audit} == {f"alert:{alarm['id']}"}
    with pytest.raises(psycopg2.Error, match="append-only"):
        db.execute(world, "UPDATE alert_history SET actor = 'someone else'")
    world.rollback()


def test_closing_a_new_alarm_records_who_saw_it(world):
    report(world, people_involved=30)
    [alarm] = alarms(world, "crowd")
    closed = lifecycle.close(world, alarm["id"], "值班员王", "误报：重复录入")
    assert (closed["status"], closed["acked_by"]) == ("closed", "值班员王")


# --------------------------------------------------------------------------- security


def scope(role: str, unit: str) -> access.Scope:
    return access.Scope(username=f"{role}@{unit}", role=role, admin_code=unit)


def test_a_town_sees_and_acknowledges_only_its_own_alarms(world):
    report(world, IN_SW, people_involved=30)
    report(world, IN_VILLAGE, people_involved=40)
    west, east = sorted(alarms(world, "crowd"), key=lambda a: a["admin_code"])
    url = cluster.database_url(test=True)
    with db.scoped(scope("operator", WEST)), db.pooled(url) as c:
        assert [a["id"] for a in lifecycle.list_alerts(c)] == [west["id"]]
        assert lifecycle.open_count(c) == 1
        with pytest.raises(lifecycle.AlertError, match="not found in your jurisdiction"):
            lifecycle.acknowledge(c, east["id"], "operator@west")
        assert lifecycle.acknowledge(c, west["id"], "operator@west")["acked_by"] == "operator@west"
    with db.scoped(scope("leader", "620802001")), db.pooled(url) as c:
        assert {a["id"] for a in lifecycle.list_alerts(c, status=None)} == {west["id"], east["id"]}
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            lifecycle.acknowledge(c, east["id"], "leader")
    assert lifecycle.get(world, east["id"])["status"] == "new"


def test_an_alarms_incident_moved_to_another_unit_stays_linked_and_its_link_follows(world):
    """alert_incident.admin_code is its incident's (0050) and the desk joins link and incident
    on it (the distribution key, issue #17): an incident re-located after it was linked, as
    publishing a plan re-locates the points of the changed grids, takes its link along
    (0098), or the alarm would lose it and the link stay with the old unit's security."""
    iid = report(world, IN_SW, people_involved=30)
    [alarm] = alarms(world, "crowd")
    assert alarm["admin_code"] == WEST
    db.execute(world, "UPDATE incident SET geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326) WHERE id = %s", (*IN_VILLAGE, iid))
    db.execute(world, "SELECT locate_points('incident'::regclass)")
    world.commit()
    assert db.scalar(world, "SELECT admin_code FROM incident WHERE id = %s", (iid,)) == EAST
    assert db.scalar(world, "SELECT admin_code FROM alert_incident WHERE incident_id = %s", (iid,)) == EAST
    assert linked(world, alarm["id"]) == [iid]
    url = cluster.database_url(test=True)
    for unit, sees in ((EAST, 1), (WEST, 0)):
        with db.scoped(scope("operator", unit)), db.pooled(url) as c:
            assert db.scalar(c, "SELECT count(*) FROM alert_incident WHERE incident_id = %s", (iid,)) == sees, unit


# --------------------------------------------------------------------------- forecast warning


def test_forecast_warning_for_top_grids_whose_forecast_is_rising(world):
    as_of = now().replace(hour=0, minute=0, second=0, microsecond=0)

    def forecaster(conn, share, when):
        assert share == 0.05
        return [
            {"grid_code": GRID_SW, "expected": 4.2, "previous": 2.0, "reasons": ["近4周上升"], "as_of": as_of},
            {"grid_code": GRID_VILLAGE, "expected": 3.0, "previous": 3.5, "reasons": [], "as_of": as_of},
        ]

    assert evaluation.tick(world, forecaster=forecaster)["forecast"] == 1
    assert evaluation.tick(world, forecaster=forecaster)["forecast"] == 0
    [alarm] = alarms(world, "forecast")
    assert alarm["grid_code"] == GRID_SW and alarm["level"] == 4
    assert alarm["reasons"][:2] == ["预测未来一周事件 4.2 起，高于近 28 天同期水平 2.0 起，位于全域前 5% 且上升", "近4周上升"]


def test_forecast_warning_from_the_stored_weekly_forecast(world):
    from geo.forecast import model as forecast
    from geo.forecast import store as forecast_store

    as_of = forecast_store.week_start()
    grid = lambda code, expected, recent, rank, tier, rising: dict(  # noqa: E731
        grid_code=code, expected=expected, recent=recent, rank=rank, tier=tier, rising=rising, reasons=["近期上升"]
    )
    forecast_store.store(
        world,
        forecast.Forecast(
            as_of=as_of,
            days=7,
            grids=[
                grid(GRID_SW, 6.0, 3.0, 1, "high", True),
                grid(GRID_VILLAGE, 5.0, 5.0, 2, "high", False),
                grid("620802001001002", 1.0, 0.2, 3, "low", True),
            ],
            model={},
            seconds=0.0,
        ),
    )
    assert evaluation.tick(world)["forecast"] == 1
    assert evaluation.tick(world)["forecast"] == 0  # the same run never warns twice
    [alarm] = alarms(world, "forecast")
    assert alarm["grid_code"] == GRID_SW and alarm["detail"]["as_of"].startswith(str(as_of.date()))
    assert alarm["reasons"][0].startswith("预测未来一周事件 6.0 起，高于近 28 天同期水平 3.0 起")


# --------------------------------------------------------------------------- configuration


def test_the_default_rules_load_and_a_broken_file_is_refused_by_key(tmp_path):
    cfg = rules.read_config()
    assert cfg["rules"]["cluster"] == {"enabled": True, "level": 3, "ack_minutes": 30, "count": 3, "radius_m": 500, "hours": 24}
    bad = rules.DEFAULT_CONFIG.read_text(encoding="utf-8").replace("radius_m = 100\n", "")
    (tmp_path / "a.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(rules.AlertConfigError, match=r"a.toml: rules.joint.radius_m missing"):
        rules.read_config(tmp_path / "a.toml")
    good = rules.DEFAULT_CONFIG.read_text(encoding="utf-8")
    (tmp_path / "b.toml").write_text(good.replace("level = 4", "level = 5"), encoding="utf-8")
    with pytest.raises(rules.AlertConfigError, match="rules.forecast.level must be 1"):
        rules.read_config(tmp_path / "b.toml")


# --------------------------------------------------------------------------- export and sound


def test_excel_export_lists_each_alarm_with_who_and_when(world):
    import io

    from openpyxl import load_workbook

    from geo.alerts import export

    report(world, people_involved=30)
    [alarm] = alarms(world, "crowd")
    lifecycle.acknowledge(world, alarm["id"], "值班员王")
    ws = load_workbook(io.BytesIO(export.workbook_bytes(alarms(world)))).active
    header, row = [c.value for c in ws[1]], [c.value for c in ws[2]]
    assert ws.max_row == 2
    values = dict(zip(header, row))
    assert values["编号"] == alarm["id"] and values["级别"] == "橙色" and values["状态"] == "已签收"
    assert values["规则"] == "聚集苗头（人数众多）" and values["签收"].startswith("值班员王 ")
    assert "涉事人数 30 人，达到 30 人" in values["依据"]


def test_the_shipped_alarm_sound_is_the_generated_wav():
    import wave

    from geo.web import alert_sound

    assert alert_sound.PATH.read_bytes() == alert_sound.wav_bytes()
    with wave.open(str(alert_sound.PATH)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22_050)
        assert w.getnframes() / w.getframerate() == pytest.approx(1.2)


# --------------------------------------------------------------------------- benchmark


def test_bench_times_the_rules_and_leaves_no_probe_or_alarm_behind(world):
    from geo.bench import alerts as bench_alerts
    from geo.bench import measure

    for d, s in ((0, "hotline"), (30, "police"), (60, "patrol")):
        report(world, at(d), source=s, reporter_phone="13800001234")
    links = "SELECT alert_id, incident_id FROM alert_incident ORDER BY 1, 2"
    before, linked_before = {r["id"] for r in db.rows(world, "SELECT id FROM alert")}, db.rows(world, links)
    result = bench_alerts.evaluation(world, repeat=6)
    assert result["rules_per_incident"]["runs"] == result["insert_with_triggers"]["runs"] == 6
    assert result["rules_per_incident"]["p95_ms"] > 0 and result["alarms_raised_or_joined"] > 0
    measure.remove_probes(world)
    assert db.scalar(world, "SELECT count(*) FROM incident WHERE title = %s", (measure.PROBE_TITLE,)) == 0
    assert {r["id"] for r in db.rows(world, "SELECT id FROM alert")} == before  # real alarms stay, probes' go
    assert db.rows(world, links) == linked_before


# --------------------------------------------------------------------------- the big screen's pieces


def test_the_screen_shows_new_alarms_and_the_leaders_screen_only_escalated_ones(world, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", cluster.database_url(test=True))
    import app  # noqa: F401  (the pages and their callbacks register with the one Dash app)
    from geo.web import alerts_screen

    report(world, people_involved=30)
    [first] = alarms(world, "crowd")
    evaluation.tick(world, now=first["ack_due"])  # unacknowledged in time: escalated
    report(world, IN_VILLAGE, people_involved=40)
    second = next(a for a in alarms(world, "crowd") if a["id"] != first["id"])

    def screen(role):
        with db.scoped(scope(role, "620802")):
            banner, count, cls, markers = alerts_screen.refresh(None, None)
        return [c.id for c in banner], count, cls, markers

    ids, count, cls, markers = screen("operator")
    assert ids == [f"alert-card-{second['id']}", f"alert-card-{first['id']}"]  # newest first
    with db.scoped(scope("operator", "620802")):
        classes = [c.className.split() for c in alerts_screen.refresh(None, None)[0]]
    assert "compact" not in classes[0] and "compact" in classes[1]  # the newest in full, the next a line: the map stays visible
    assert count == "2" and "alert" in cls.split()
    assert {m["id"]: m["new"] for m in markers} == {first["id"]: True, second["id"]: True}
    ids, count, _, _ = screen("leader")
    assert ids == [f"alert-card-{first['id']}"] and count == "2"  # leaders: what nobody acknowledged in time
    lifecycle.acknowledge(world, second["id"], "值班员王")
    ids, _, _, markers = screen("operator")
    assert ids == [f"alert-card-{first['id']}"]  # acknowledged: off the banner, its marker stops pulsing
    assert {m["id"]: m["new"] for m in markers}[second["id"]] is False


def test_a_tick_with_nothing_new_leaves_the_alarms_version_alone(world):
    iid = report(world, minor="0102", conflict_intensity=3, behaviour_risk=3)
    deadline = db.scalar(world, "SELECT deadline FROM incident WHERE id = %s", (iid,))
    evaluation.tick(world, now=deadline + timedelta(minutes=1))  # raises the overdue alarm
    version = lifecycle.version(world)
    for minutes in (2, 3):  # the same overdue incident offered again, nothing due
        evaluation.tick(world, now=deadline + timedelta(minutes=minutes))
    assert lifecycle.version(world) == version
