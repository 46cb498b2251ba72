"""Risk on a real ledger (issue #14, item 6): incidents whose four factors are unknown.

A generated 12345 hotline ledger with a known mix (routine complaints, repeats at the same
door, quarrels, group wage claims, knives, threats to jump, one busy grid) is imported as an
office would have it (type, address, time, status, description; no intensity, duration or
behaviour) and must yield a plausible spread of tiers, with every reason naming what was
unknown. Real PostGIS, the real importer, the tiny jurisdiction of conftest.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import shapely

from geo import db
from geo.io import importer
from geo.risk import tiers as risk

CST = timezone(timedelta(hours=8))
END = datetime.now(CST).replace(second=0, microsecond=0) - timedelta(hours=1)
UNKNOWN_ALL = "未知：涉事人数、持续时间、冲突程度、当事人思想行为（按类别、描述用语、重复诉求和网格近况评估）"

# 3 x 10 grids (about 300 x 220 m) in each community of the tiny jurisdiction: with the
# ledger's ~1,100 routine rows, about 20 incidents per grid and quarter, as in a real county.
GRIDS = [
    (f"{community}{n + 1:03d}", shapely.box(x0 + col / 300, 35.53 + row * 0.002, x0 + (col + 1) / 300, 35.532 + row * 0.002))
    for community, x0 in (("620802001001", 106.65), ("620802001002", 106.66))
    for n, (row, col) in enumerate((r, c) for r in range(10) for c in range(3))
]
BUSY = GRIDS[3]  # a grid with a busy quarter (60 complaints on top of its share)

ROUTINE = [  # (minor code, description) of the everyday hotline
    ("1202", "反映小区路灯不亮"),
    ("0705", "机动车乱停放堵塞通道"),
    ("0401", "路边暴露垃圾无人清运"),
    ("1103", "夜间噪音扰民"),
    ("1012", "供暖温度不达标"),
    ("1013", "物业服务不到位"),
    ("0703", "占道经营"),
    ("1209", "下水道堵塞"),
    ("0601", "施工扰民"),
    ("1203", "道路破损"),
]


DISPUTES = [
    ("0103", "与邻居因漏水产生纠纷"),
    ("0101", "家庭赡养问题求助调解"),
    ("0114", "业主与物业因收费产生纠纷"),
    ("0105", "装修合同纠纷"),
    ("0115", "民间借贷纠纷求助"),
    ("0104", "宅基地界址纠纷"),
    ("0111", "用人单位未签劳动合同"),
    ("0116", "消费纠纷投诉"),
]


SPECIAL = (  # (group, rows, categories, descriptions) of the rows that should not stay low
    ("quarrel", 150, ("0103", "0101", "0114"), ("双方发生争吵", "邻居互相辱骂", "因漏水吵架")),  # quarrels
    ("wages", 30, ("0111",), ("工人群体讨薪", "十余名工人聚集讨薪", "农民工集体讨要欠薪")),  # group wage claims
    ("knife", 15, ("0103", "0211"), ("邻里纠纷一方持刀威胁", "酒后打架斗殴")),  # knives and fights
    ("jump", 8, ("0111", "0101"), ("讨薪工人扬言跳楼", "当事人情绪失控扬言轻生")),  # threats to jump
)


def _point(rng: random.Random, box) -> shapely.Point:
    x0, y0, x1, y1 = box.bounds
    return shapely.Point(rng.uniform(x0 + 1e-4, x1 - 1e-4), rng.uniform(y0 + 1e-4, y1 - 1e-4))


def generate_ledger(seed: int = 14) -> list[dict]:
    """About 1,500 ledger rows over 90 days, each with its `group` (what the mix put in)."""
    rng = random.Random(seed)
    rows: list[dict] = []

    def add(group, code, text, point, at, address=None):
        rows.append(dict(group=group, category=code, description=text, point=point, at=at, address=address))

    def when() -> datetime:
        return END - timedelta(days=rng.uniform(0, 89), minutes=rng.randrange(1440))

    for _ in range(500):  # routine complaints, spread over every grid
        code, text = rng.choice(ROUTINE)
        add("routine", code, text, _point(rng, rng.choice(GRIDS)[1]), when())
    for _ in range(600):  # disputes as a ledger words them (the issue's: 3,010 of 5,000 rows)
        code, text = rng.choice(DISPUTES)
        add("dispute", code, text, _point(rng, rng.choice(GRIDS)[1]), when())
    for _ in range(60):  # a busy grid
        code, text = rng.choice(ROUTINE)
        add("busy", code, text, _point(rng, BUSY[1]), when())
    for door in range(25):  # the same complaint again and again at one door, 3-7 times
        code, text = rng.choice(ROUTINE)
        point, first = _point(rng, rng.choice(GRIDS)[1]), END - timedelta(days=rng.uniform(40, 88))
        times = sorted(first + timedelta(days=rng.uniform(0, (END - first).days)) for _ in range(rng.randint(3, 7)))
        for k, at in enumerate(times):
            add(f"repeat{k + 1}", code, text + "，多次反映未解决" * (k >= 2), point, at, address=f"柳湖路{door + 1}号")
    for group, n, codes, texts in SPECIAL:
        for _ in range(n):
            add(group, rng.choice(codes), rng.choice(texts), _point(rng, rng.choice(GRIDS)[1]), when())
    for n, r in enumerate(rows):
        r["address"] = r["address"] or f"新民路{n + 1}号"
        r["at"] = r["at"].replace(second=n % 60, microsecond=0)  # (address, time) identifies a row
        r["status"] = "closed" if r["at"] < END - timedelta(days=20) else rng.choice(("received", "in_progress"))
    return rows


def write_ledger(path, rows: list[dict]) -> None:
    """A CSV as a hotline exports it: no people, duration, intensity or behaviour column."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["category", "reported_at", "description", "address", "status", "source", "lon", "lat"])
        for r in rows:
            w.writerow(
                [
                    r["category"],
                    r["at"].strftime("%Y-%m-%d %H:%M:%S"),
                    r["description"],
                    r["address"],
                    r["status"],
                    "hotline",
                    f"{r['point'].x:.7f}",
                    f"{r['point'].y:.7f}",
                ]
            )


@pytest.fixture
def ledger_world(tiny_jurisdiction, categories, add_grids, conn):
    add_grids([(code, f"{code[-3:]}网格", "urban", box) for code, box in GRIDS])
    risk.load_config(conn)
    return conn


def imported_tiers(conn, rows: list[dict]) -> list[dict]:
    """The rows of the ledger with their stored tier and reasons, matched on address and time."""
    stored = {
        (r["address"], r["reported_at"]): r
        for r in db.rows(conn, "SELECT address, reported_at, risk_tier, risk_score, risk_reasons, people_involved FROM incident")
    }
    return [dict(r, **stored[(r["address"], r["at"])]) for r in rows]


def test_a_hotline_ledger_yields_a_plausible_spread_of_tiers(ledger_world, tmp_path):
    rows = generate_ledger()
    path = tmp_path / "12345台账.csv"
    write_ledger(path, rows)
    importer.import_file(ledger_world, "incidents", path)
    got = imported_tiers(ledger_world, rows)
    assert all(r["people_involved"] is None for r in got)  # no column: unknown, not "one person"

    share = {t: n / len(got) for t, n in Counter(r["risk_tier"] for r in got).items()}
    assert 0.01 <= share.get("high", 0) <= 0.08, share  # not half high ...
    assert 0.05 <= share.get("medium", 0) <= 0.35, share  # ... not all low
    assert share["low"] >= 0.6, share

    by_group: dict[str, list[dict]] = {}
    for r in got:
        by_group.setdefault(r["group"], []).append(r)
    tiers = {g: Counter(r["risk_tier"] for r in rs) for g, rs in by_group.items()}
    # Threats to jump and knives are never low; a group wage claim is at least medium.
    assert tiers["jump"]["low"] == 0 and tiers["jump"]["high"] >= 1, tiers["jump"]
    assert tiers["knife"]["low"] == 0, tiers["knife"]
    assert tiers["wages"]["low"] == 0, tiers["wages"]
    # Routine complaints stay low: the ledger's bulk is not promoted.
    assert tiers["routine"]["low"] / len(by_group["routine"]) >= 0.9, tiers["routine"]
    assert tiers["dispute"]["low"] / len(by_group["dispute"]) >= 0.9, tiers["dispute"]
    # The same complaint at the same door: the first is routine, the fifth a standing problem.
    assert tiers["repeat1"]["low"] / len(by_group["repeat1"]) >= 0.9, tiers["repeat1"]
    late = [r for g in ("repeat5", "repeat6", "repeat7") for r in by_group.get(g, [])]
    assert late and all(r["risk_tier"] != "low" for r in late)
    # The reasons say what was inferred, from what, and which factors were unknown.
    assert all(r["risk_reasons"][-1] == UNKNOWN_ALL for r in got)
    knife = next(r for r in by_group["knife"] if "持刀" in r["description"])
    assert "描述含“持刀”，推定冲突程度 肢体冲突（+20）" in knife["risk_reasons"]
    fifth = by_group["repeat5"][0]
    assert any(x.startswith("近90天同一地点或当事人已有 4 次诉求") for x in fifth["risk_reasons"])
    assert any(x.startswith("同一地点或当事人首次诉求至今") for x in fifth["risk_reasons"])
    assert any(x.startswith("所在网格近90天事件") for r in by_group["busy"] for x in r["risk_reasons"])

    # The grids follow: the busy grid is no longer "low" like every other after a ledger import.
    grids = {r["grid_code"]: r["tier"] for r in risk.grid_tiers(ledger_world)}
    assert grids[BUSY[0]] != "low", grids
    assert Counter(grids.values())["low"] >= len(GRIDS) // 2, grids


def test_order_of_import_does_not_change_the_tiers(ledger_world, tmp_path, reset_db, add_grids):
    """The same ledger imported as two files, the later half first: the earlier reports make
    the later ones repeats after the fact, and a full recompute agrees with the triggers."""
    rows = sorted(generate_ledger(seed=3), key=lambda r: r["at"])
    write_ledger(tmp_path / "all.csv", rows)
    importer.import_file(ledger_world, "incidents", tmp_path / "all.csv")
    whole = {(r["address"], r["at"]): (r["risk_tier"], r["risk_reasons"]) for r in imported_tiers(ledger_world, rows)}

    reset_db()
    add_grids([(code, f"{code[-3:]}网格", "urban", box) for code, box in GRIDS])
    risk.load_config(ledger_world)
    half = len(rows) // 2
    write_ledger(tmp_path / "later.csv", rows[half:])
    write_ledger(tmp_path / "earlier.csv", rows[:half])
    importer.import_file(ledger_world, "incidents", tmp_path / "later.csv")
    importer.import_file(ledger_world, "incidents", tmp_path / "earlier.csv")
    parts = {(r["address"], r["at"]): (r["risk_tier"], r["risk_reasons"]) for r in imported_tiers(ledger_world, rows)}
    assert parts == whole
    assert risk.recompute_incidents(ledger_world) == 0


def test_known_factors_are_scored_as_before_and_words_do_not_override_them(ledger_world):
    """An incident with all four factors is scored by 0004 alone: its words and repeats add nothing."""
    point = "POINT(106.6525 35.532)"
    got = []
    with db.transaction(ledger_world) as cur:
        for _ in range(6):
            cur.execute(
                """INSERT INTO incident (title, description, minor_code, source, reported_at, people_involved, duration_days,
                                         conflict_intensity, behaviour_risk, status, grid_code, admin_code, geom)
                   VALUES ('邻里纠纷', '一方持刀扬言跳楼', '0103', 'patrol', now(), 1, 0, 0, 0, 'received', %s, left(%s, 12),
                           ST_GeomFromText(%s, 4326)) RETURNING risk_tier, risk_reasons""",
                (GRIDS[0][0], GRIDS[0][0], point),
            )
            got.append(cur.fetchone())
    assert got == [("low", ["类别严重程度 2 级（+3）"])] * 6


def test_one_unknown_factor_is_inferred_the_others_count_as_given(ledger_world):
    """Only the behaviour unknown (a form without it): the given factors score as usual, the
    words speak for behaviour only, and the reasons name just that factor."""
    with db.transaction(ledger_world) as cur:
        cur.execute(
            """INSERT INTO incident (title, description, minor_code, source, reported_at, people_involved, duration_days,
                                     conflict_intensity, behaviour_risk, status, grid_code, admin_code, geom)
               VALUES ('劳动争议', '工人扬言跳楼', '0111', 'hotline', now(), 6, 10, 1, NULL, 'received', %s, left(%s, 12),
                       ST_GeomFromText('POINT(106.6525 35.532)', 4326)) RETURNING risk_score, risk_tier, risk_reasons""",
            (GRIDS[0][0], GRIDS[0][0]),
        )
        score, tier, reasons = cur.fetchone()
    assert reasons == [
        "涉事 6 人（+10）",
        "持续 10 天（+4）",
        "冲突程度 一般（+5）",
        "类别严重程度 4 级（+12）",
        "描述含“跳楼”，推定当事人思想行为 扬言极端（+22）",
        "未知：当事人思想行为（按类别、描述用语、重复诉求和网格近况评估）",
    ]
    assert (score, tier) == (53, "high")


def test_the_word_list_is_data_and_is_checked(tmp_path):
    cfg = risk.read_config()
    assert ["持刀", "intensity", 3] in cfg["incident"]["words"]
    bad = tmp_path / "risk_words.csv"
    bad.write_text("word,factor,value\n持刀,intensity,7\n", encoding="utf-8")
    toml = tmp_path / "risk.toml"
    toml.write_text(risk.DEFAULT_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(risk.RiskConfigError, match=r"risk_words.csv: word 1 \(持刀\): value 7 outside 1-3 for intensity"):
        risk.read_config(toml)
    bad.unlink()
    with pytest.raises(risk.RiskConfigError, match="no such file"):
        risk.read_config(toml)
