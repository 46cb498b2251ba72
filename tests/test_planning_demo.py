"""The planner's "done when" on the Kongtong demo, at the library level: every deliberate
defect listed, a gap and an overlap fixed by edits, the score rising, publish, the old
version still viewable. The community is put back afterwards by publishing its old
geometry as a further version (history is never deleted), so the demo stays reusable.
"""

from __future__ import annotations

import time

import pytest

from geo.coverage import report as coverage
from geo.planning import drafts as planning
from geo.planning.publish import diff, grids_at, plan_moment, publish
from tests.support.planning import fixable_community, restore


def test_fix_a_gap_and_an_overlap_publish_and_look_at_the_old_version(demo_conn):
    conn = demo_conn
    coverage.refresh(conn)
    code, plan_id, found = fixable_community(conn)
    report = coverage.analyse(conn, code)
    listed = {(d.kind, tuple(d.grid_codes)) for d in found["check"].defects}
    for d in report.defects:  # every spatial defect of coverage analysis touching this community's grids is listed
        if d.kind in ("gap", "sliver", "overlap", "crossing") and set(d.grid_codes) & found["own"]:
            assert (d.kind, tuple(d.grid_codes)) in listed
    assert found["check"].score == pytest.approx(report.score["score"], abs=1e-4)
    old = grids_at(conn, code)
    try:
        t0 = time.perf_counter()
        r1 = planning.fill(conn, plan_id, sorted(found["own"] & set(found["gap"].grid_codes))[0], found["gap"].geom)
        edit_seconds = time.perf_counter() - t0
        assert r1.applied and r1.after.score > r1.before.score
        a, b = found["overlap"].grid_codes
        r2 = planning.trim(conn, plan_id, b, found["overlap"].geom)
        assert r2.applied and r2.after.score > r2.before.score > found["check"].score
        assert edit_seconds < 5
        t0 = time.perf_counter()
        result = publish(conn, plan_id, by="pytest")
        publish_seconds = time.perf_counter() - t0
        assert result["inserted"] == len({*r1.codes, *r2.codes})
        assert coverage.analyse(conn, code).score["score"] == pytest.approx(r2.after.score, abs=1e-4)
        community, moment = plan_moment(conn, plan_id)
        assert {c: g.wkb for c, g in grids_at(conn, community, moment).items()} == {c: g.wkb for c, g in old.items()}
        d = diff(conn, community, moment)
        assert set(d["changed_grids"]) == {*r1.codes, *r2.codes} and d["counts"]["added"] >= 1
        print(f"\nedit {edit_seconds:.2f} s, publish {publish_seconds:.2f} s (with coverage refresh)")
    finally:
        restore(conn, code, old)
