"""Draft plans on small exact geometries: checks, undo/redo, atomic publish, differences.

The urban community 620802001001 is the box 106.65-106.66 x 35.53-35.55. Its grids:
  A 106.6500-106.6550 x 35.530-35.541
  B 106.6555-106.6600 x 35.530-35.541   (a 0.0005-deg, ~45 m wide gap between A and B)
  C 106.6500-106.6600 x 35.540-35.550   (overlaps A and B on 35.540-35.541)
"""

from __future__ import annotations

import pytest
import shapely

from geo import db
from geo.coverage import report as coverage
from geo.planning import drafts as planning
from geo.planning.publish import diff, draft_diff, grids_at, plan_moment, publish

URBAN = "620802001001"
A, B, C = URBAN + "001", URBAN + "002", URBAN + "003"
BOXES = {A: (106.650, 35.530, 106.655, 35.541), B: (106.6555, 35.530, 106.660, 35.541), C: (106.650, 35.540, 106.660, 35.550)}
GAP = shapely.box(106.655, 35.530, 106.6555, 35.540)


@pytest.fixture
def community(tiny_jurisdiction, add_grids, conn):
    add_grids([(code, code[-3:], "urban", shapely.box(*box)) for code, box in BOXES.items()])
    with db.transaction(conn) as cur:
        for i, (lon, lat) in enumerate([(106.652, 35.535), (106.6552, 35.535), (106.658, 35.535), (106.655, 35.545)]):
            cur.execute(
                """INSERT INTO household (address, persons, admin_code, geom)
                           VALUES (%s, 3, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                (f"h{i}", URBAN, lon, lat),
            )
    return conn


def test_a_new_plan_scores_like_coverage_analysis(community):
    plan_id = planning.create(community, URBAN, created_by="t")
    check = planning.evaluate(community, plan_id)
    report = coverage.analyse(community, URBAN)
    assert check.score == pytest.approx(report.score["score"], abs=1e-6)
    assert check.summary["gap"] == 1 and check.summary["overlap"] == 2
    assert {tuple(d.grid_codes) for d in check.defects if d.kind == "overlap"} == {(A, C), (B, C)}
    loads = {r["code"]: r["households"] for r in check.loads}
    assert loads == {A: 1, B: 1, C: 1} and check.outside_households == 1  # (106.6552, 35.535) lies in the gap


def test_fixing_a_gap_and_an_overlap_raises_the_score_and_undo_restores_exactly(community):
    plan_id = planning.create(community, URBAN)
    start = planning.evaluate(community, plan_id).score
    original = planning.grids(community, plan_id)[A]["geom"]
    gap = next(d for d in planning.evaluate(community, plan_id).defects if d.kind == "gap")
    r1 = planning.fill(community, plan_id, A, gap.geom)
    assert r1.applied and r1.after.score > start and r1.after.summary["gap"] == 0
    filled = planning.grids(community, plan_id)[A]["geom"]
    overlap = shapely.union_all([d.geom for d in r1.after.defects if d.kind == "overlap"])
    r2 = planning.trim(community, plan_id, C, overlap)
    assert r2.applied and r2.after.score == pytest.approx(1.0) and r2.after.summary["overlap"] == 0
    assert planning.history(community, plan_id)["undo"] == 2
    planning.undo(community, plan_id)
    planning.undo(community, plan_id)
    back = planning.grids(community, plan_id)
    assert back[A]["geom"].wkb == original.wkb and back[A]["action"] == "keep"  # bit for bit
    assert planning.evaluate(community, plan_id).score == start
    planning.redo(community, plan_id)
    assert planning.grids(community, plan_id)[A]["geom"].wkb == filled.wkb
    assert shapely.equals(filled, shapely.union(original, GAP))
    assert planning.evaluate(community, plan_id).score == pytest.approx(r1.after.score)


def test_an_edit_that_opens_a_gap_is_refused_unless_forced(community):
    plan_id = planning.create(community, URBAN)
    shrunk = shapely.box(106.650, 35.530, 106.653, 35.541)
    refused = planning.reshape(community, plan_id, A, shrunk)
    assert not refused.applied and refused.worse == ["gap"]
    assert shapely.equals(planning.grids(community, plan_id)[A]["geom"], shapely.box(*BOXES[A]))
    forced = planning.reshape(community, plan_id, A, shrunk, force=True)
    assert forced.applied and planning.history(community, plan_id)["undo"] == 1


def test_reshape_snaps_onto_the_neighbour(community):
    plan_id = planning.create(community, URBAN)
    # A's east edge dragged to 106.65548 (2 m short of B): the snap puts it on B's edge.
    dragged = shapely.Polygon([(106.650, 35.530), (106.65548, 35.530), (106.65548, 35.540), (106.650, 35.540)])
    result = planning.reshape(community, plan_id, A, dragged, tolerance=0.0001)
    geom = planning.grids(community, plan_id)[A]["geom"]
    assert max(x for x, _ in geom.geoms[0].exterior.coords) == 106.6555
    assert result.after.summary["gap"] == 0


def test_split_and_merge(community):
    plan_id = planning.create(community, URBAN)
    planning.split(community, plan_id, C, shapely.LineString([(106.655, 35.539), (106.655, 35.551)]), force=True)
    after = planning.grids(community, plan_id)
    assert set(after) == {A, B, C, URBAN + "004"} and after[URBAN + "004"]["action"] == "new"
    assert after[C]["geom"].area + after[URBAN + "004"]["geom"].area == pytest.approx(shapely.box(*BOXES[C]).area)
    planning.merge(community, plan_id, [C, URBAN + "004"], force=True)
    assert shapely.equals(planning.grids(community, plan_id)[C]["geom"], shapely.box(*BOXES[C]))
    assert URBAN + "004" not in planning.grids(community, plan_id)
    with pytest.raises(planning.PlanError):
        planning.split(community, plan_id, A, shapely.LineString([(106.70, 35.0), (106.71, 35.0)]))


def test_publish_switches_versions_atomically_and_keeps_history(community):
    plan_id = planning.create(community, URBAN)
    gap = next(d for d in planning.evaluate(community, plan_id).defects if d.kind == "gap")
    planning.fill(community, plan_id, A, gap.geom)
    before = grids_at(community, URBAN)
    # A failure in the middle: locate_points on household raises (a trigger), after grid rows were written.
    db.execute(
        community,
        """CREATE FUNCTION fail_locate() RETURNS trigger LANGUAGE plpgsql AS
                             $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$""",
    )
    db.execute(community, "CREATE TRIGGER fail_locate BEFORE UPDATE ON household FOR EACH ROW EXECUTE FUNCTION fail_locate()")
    community.commit()
    try:
        with pytest.raises(Exception, match="injected failure"):
            publish(community, plan_id, refresh_coverage=False)
    finally:
        db.execute(community, "DROP TRIGGER fail_locate ON household; DROP FUNCTION fail_locate()")
        community.commit()
    assert planning.get(community, plan_id)["status"] == "draft"
    assert {c: g.wkb for c, g in grids_at(community, URBAN).items()} == {c: g.wkb for c, g in before.items()}
    assert db.scalar(community, "SELECT count(*) FROM grid") == 3
    result = publish(community, plan_id, by="planner")
    assert result["closed"] == 1 and result["inserted"] == 1 and result["coverage_score"] is not None
    assert db.one(community, "SELECT version, edited_by FROM grid_current WHERE code = %s", (A,)) == {
        "version": 2,
        "edited_by": "planner",
    }
    assert db.scalar(community, "SELECT grid_code FROM household WHERE address = 'h1'") == A  # was in the gap
    # The old version is still there, and the difference shows the gap filled.
    code, moment = plan_moment(community, plan_id)
    assert shapely.equals(grids_at(community, URBAN, moment)[A], shapely.box(*BOXES[A]))
    d = diff(community, URBAN, moment)
    assert d["changed_grids"] == [A] and d["counts"]["added"] == 1 and d["counts"]["removed"] == 0
    with pytest.raises(planning.PlanError):
        publish(community, plan_id)


def test_draft_diff_names_the_grids_a_plan_would_change(community):
    plan_id = planning.create(community, URBAN)
    planning.merge(community, plan_id, [A, B], force=True)
    d = draft_diff(community, plan_id)
    assert d["changed_grids"] == [A, B]
    assert d["counts"]["changed"] >= 1  # B's area now belongs to A
    # counted in grids too: one retired, one reshaped, none new (a merge adds no area)
    n = len(grids_at(community, URBAN))
    assert d["grids"] == dict(before=n, after=n - 1, created=0, retired=1, reshaped=1)


def test_exports_carry_the_coverage_report(community, tmp_path):
    import json

    import openpyxl
    import pyogrio

    from geo.planning.export import export_plan

    plan_id = planning.create(community, URBAN)
    gj = json.loads(export_plan(community, plan_id, tmp_path / "p.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["code"] for f in gj["features"]] == [A, B, C]
    assert gj["coverage"]["gap"] == 1 and gj["coverage"]["overlap"] == 2 and gj["coverage"]["score"] < 1
    gpkg = export_plan(community, plan_id, tmp_path / "p.gpkg")
    assert {name for name, _ in pyogrio.list_layers(gpkg)} == {"plan_grids", "coverage_defects", "coverage_report"}
    book = openpyxl.load_workbook(export_plan(community, plan_id, tmp_path / "p.xlsx"))
    assert book.sheetnames == ["网格", "问题", "汇总"] and book["问题"].max_row == 4
    with pytest.raises(Exception, match="unknown format"):
        export_plan(community, plan_id, tmp_path / "p.shp")


def test_cli_list_show_publish_diff(community, capsys, tmp_path):
    from geo import cli

    plan_id = planning.create(community, URBAN)
    gap = next(d for d in planning.evaluate(community, plan_id).defects if d.kind == "gap")
    planning.fill(community, plan_id, A, gap.geom)
    moment = db.scalar(community, "SELECT now()")
    community.commit()
    assert cli.main(["plan", "list", "--test"]) == 0
    assert f"{plan_id}" in capsys.readouterr().out
    assert cli.main(["plan", "show", str(plan_id), "--test"]) == 0
    assert "overlap" in capsys.readouterr().out
    assert cli.main(["plan", "publish", str(plan_id), "--by", "cli", "--test"]) == 0
    assert "1 new versions" in capsys.readouterr().out
    assert cli.main(["plan", "diff", "--community", URBAN, "--from", moment.isoformat(), "--json", "--test"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["changed_grids"] == [A]
    assert cli.main(["plan", "publish", str(plan_id), "--test"]) != 0


def test_an_adopted_proposal_keeps_codes_with_their_territory(community):
    """A code carries a grid's history: it stays with the ground it covered, new ground gets
    a new code and a code whose ground went elsewhere is retired (not handed to a stranger)."""
    plan_id = planning.create(community, URBAN)
    top, south = shapely.box(106.650, 35.540, 106.660, 35.550), shapely.box(106.650, 35.530, 106.660, 35.541)
    # the proposal lists the south strip first: reusing codes in order would call it A
    planning.replace_all(community, plan_id, [south, top], force=True)
    after = planning.grids(community, plan_id)
    assert shapely.equals(after[C]["geom"], top)  # C's ground, still C
    kept_south = [c for c, g in after.items() if shapely.equals(g["geom"], south)]
    assert kept_south in ([A], [B])  # the south strip keeps the code of the grid it mostly covers
    retired = ({A, B} - set(kept_south)).pop()
    assert retired not in after and after[kept_south[0]]["action"] == "changed"
    # a grid the proposal draws mostly over other grids' ground gets a new code
    plan2 = planning.create(community, URBAN)
    west, east = shapely.box(106.650, 35.530, 106.6535, 35.550), shapely.box(106.6535, 35.530, 106.660, 35.550)
    planning.replace_all(community, plan2, [west, east], force=True)
    codes = planning.grids(community, plan2)
    assert shapely.equals(codes[C]["geom"], east) or shapely.equals(codes[C]["geom"], west) or C not in codes
    assert len(codes) == 2 and all(c in (A, B, C) or c > C for c in codes)


def test_the_grid_list_reads_deviations_as_they_are():
    """1 household of a 300 standard is -99%, not -100% (which reads as an empty grid), and
    299 of 300 is 0%, not "-0%"; only an empty grid is -100% (found on the planner's day)."""
    from types import SimpleNamespace

    import app  # noqa: F401  (pages register with the one Dash app)
    from geo.web.pages import planner as page

    def row(households, deviation):
        return dict(code="620802001001001", name="g", households=households, persons=3, deviation=deviation, off=True)

    cases = [(1, 1 / 300 - 1, "-99%"), (299, 299 / 300 - 1, "0%"), (0, -1.0, "-100%"), (368, 368 / 300 - 1, "+23%")]
    table = page.grid_table(SimpleNamespace(loads=[row(n, d) for n, d, _ in cases]))
    shown = [tr.children[4].children for tr in table.children[1].children]
    assert shown == [text for _, _, text in cases]
