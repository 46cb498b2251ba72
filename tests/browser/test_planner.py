"""The planner's workbench in a real headless Chromium.

On the demo — the issue's "done when": every deliberate defect listed and on the map, a gap
and an overlap fixed by editing, the coverage score rising, publish, and the old version on
the map. The demo community is put back afterwards (tests/test_planning_demo.restore).

On small exact geometries (an app on the test database, `tiny_app`), the editing tools
driven through the real map with mouse events: a vertex dragged near a neighbour's edge
snaps onto it and undo restores the grid bit for bit; a split along a line drawn with
clicks; households picked on the map and moved to another grid, then published; a 多网合一
piece accepted from its list."""

from __future__ import annotations

import time

import pytest
import shapely

from geo import db
from geo.planning import drafts as planning
from geo.planning.publish import grids_at
from tests.browser.chromium import chromium_driver, requested_urls, severe_console_errors, wait_for
from tests.support.planning import fixable_community, restore
from tests.support.webapp import ROOT, running_app

SCREENSHOT = ROOT / "docs" / "screenshots" / "planner.png"


@pytest.fixture(scope="module")
def app_url(demo_url):
    with running_app(demo_url) as url:
        yield url


def score(driver) -> float:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    for _ in range(50):  # the panel is re-rendered after every edit: read it again if it went stale meanwhile
        try:
            return float(driver.find_element("id", "pl-score-value").text.rstrip("%"))
        except (StaleElementReferenceException, NoSuchElementException):
            time.sleep(0.1)
    raise AssertionError("the score never settled")


def test_fix_a_gap_and_an_overlap_publish_and_see_the_old_version(app_url, demo_url):
    from selenium.webdriver.common.by import By

    conn = db.connect(demo_url)
    code, plan_id, found = fixable_community(conn)
    old = grids_at(conn, code)
    driver = chromium_driver()
    try:
        driver.get(f"{app_url}/planner?community={code}")
        state = wait_for(
            lambda: driver.execute_script("return window.plannerState && window.plannerState()"),
            timeout=60,
            message="the planner map",
        )
        assert state["grids"] == len(found["own"]) and state["defects"] == len(found["check"].defects)
        items = driver.find_elements(By.CSS_SELECTOR, "#pl-defects .pl-item")
        assert len(items) >= len(found["check"].defects)  # spatial defects, then loads and staffing
        assert f"#{plan_id}" in driver.find_element(By.ID, "pl-plan-label").text
        # A click on a defect flies the map to it.
        driver.find_element(By.CSS_SELECTOR, "#pl-defects .pl-overlap .pl-fly").click()
        wait_for(lambda: driver.execute_script("return window.plannerState().flown") >= 1, message="fly to the defect")
        time.sleep(1)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        start = score(driver)

        def click_fix(selector):
            before = score(driver)
            buttons = driver.find_elements(By.CSS_SELECTOR, selector)
            assert buttons, selector
            buttons[0].click()
            return wait_for(lambda: score(driver) > before and score(driver), timeout=60, message=f"score rise after {selector}")

        gap_code = sorted(found["own"] & set(found["gap"].grid_codes))[0]
        after_gap = click_fix(f"#pl-defects .pl-{found['gap'].kind} .pl-fix")
        # Give the overlap between two of the community's own grids to its first grid.
        a, b = found["overlap"].grid_codes
        overlap_items = [
            i for i in driver.find_elements(By.CSS_SELECTOR, "#pl-defects .pl-overlap") if f"{a[-3:]} / {b[-3:]}" in i.text
        ]
        assert overlap_items
        before = score(driver)
        overlap_items[0].find_element(By.CSS_SELECTOR, ".pl-fix").click()
        after_overlap = wait_for(lambda: score(driver) > before and score(driver), timeout=60, message="score rise")
        assert start < after_gap < after_overlap
        assert "→" in driver.find_element(By.ID, "pl-score").text
        assert gap_code
        # Undo and redo are live; undo once and redo restores the same score.
        driver.find_element(By.ID, "pl-undo").click()
        wait_for(lambda: score(driver) == after_gap, timeout=60, message="undo")
        driver.find_element(By.ID, "pl-redo").click()
        wait_for(lambda: score(driver) == after_overlap, timeout=60, message="redo")
        driver.execute_script("window.plannerFit()")
        time.sleep(1.5)
        driver.save_screenshot(str(SCREENSHOT))
        # Publish: a new draft opens; the old version is one choice away.
        driver.find_element(By.ID, "pl-publish").click()
        wait_for(lambda: "已发布" in driver.find_element(By.ID, "pl-msg").text, timeout=90, message="publish")
        assert planning.get(conn, plan_id)["status"] == "published"
        driver.find_element(By.CSS_SELECTOR, "#pl-diff").click()
        option = wait_for(
            lambda: [
                o
                for o in driver.find_elements(
                    By.CSS_SELECTOR, "#pl-diff [role=option], #pl-diff .Select-option, .dash-dropdown-option"
                )
                if f"#{plan_id}" in o.text
            ],
            timeout=20,
            message="the plan in the version list",
        )
        option[0].click()
        state = wait_for(
            lambda: (s := driver.execute_script("return window.plannerState()"))["diff"] > 0 and s,
            timeout=60,
            message="the difference on the map",
        )
        assert state["diff"] >= len(old)  # the old version's outlines plus the changed pieces
        assert "新增" in driver.find_element(By.ID, "pl-diff-summary").text
        assert severe_console_errors(driver) == []
        assert [u for u in requested_urls(driver) if not u.startswith((app_url, "data:", "blob:"))] == []
    finally:
        driver.quit()
        restore(conn, code, old)
        conn.close()
    assert SCREENSHOT.stat().st_size > 50_000


def test_draw_in_the_browser_goes_through_the_server_check(app_url, demo_url):
    """Clicks on the map sketch a polygon; 应用 sends it; the server snaps and checks it: a
    grid drawn over existing grids is refused for its overlap, with 仍然应用 offered."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    conn = db.connect(demo_url)
    code = "620802001009"
    plan_id = planning.open_draft(conn, code)
    edits_before = planning.history(conn, plan_id)["undo"]  # a draft left by an earlier run may hold edits
    driver = chromium_driver()
    try:
        driver.get(f"{app_url}/planner?community={code}")
        wait_for(lambda: driver.execute_script("return window.plannerState && window.plannerState()"), timeout=60, message="map")
        driver.find_element(By.CSS_SELECTOR, "#pl-mode input[value=draw]").click()
        wait_for(lambda: driver.execute_script("return window.plannerState().mode") == "draw", message="draw mode")
        canvas = driver.find_element(By.CSS_SELECTOR, "#planner-map canvas")
        for dx, dy in ((-40, -40), (40, -40), (40, 40), (-40, 40)):
            ActionChains(driver).move_to_element_with_offset(canvas, dx, dy).click().perform()
            time.sleep(0.3)
        driver.find_element(By.ID, "pl-apply").click()
        msg = wait_for(lambda: driver.find_element(By.ID, "pl-msg").text, timeout=60, message="the check's answer")
        assert "未应用" in msg and "重叠" in msg
        assert driver.find_element(By.ID, "pl-force").is_displayed()
        assert planning.history(conn, plan_id)["undo"] == edits_before  # refused: nothing applied
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()
        conn.close()


# --------------------------------------------------------------------------- editing on small exact geometries
#
# The urban community 620802001001 is the box 106.65-106.66 x 35.53-35.55:
#   A  west half, its east edge notched in to a vertex at (106.654, 35.545): a triangular gap
#      between A and the line x = 106.655;
#   B  106.655-106.660 x 35.530-35.540;   C  106.655-106.660 x 35.540-35.550.
# The village 620802001002 (106.66-106.67) holds V1 | V2 split at 106.665; its police and
# urban-management layers both split it at 106.666.
URBAN, VILLAGE = "620802001001", "620802001002"
A, B, C = URBAN + "001", URBAN + "002", URBAN + "003"
V1, V2 = VILLAGE + "001", VILLAGE + "002"
APEX = (106.654, 35.545)
A_GEOM = shapely.Polygon([(106.65, 35.53), (106.655, 35.53), APEX, (106.655, 35.55), (106.65, 35.55)])
HOUSEHOLDS = {"in_a": (106.652, 35.54), "near_c": (106.6575, 35.5395), "deep_b": (106.658, 35.532), "in_c": (106.657, 35.548)}


@pytest.fixture(scope="module")
def tiny_app(conn, tiny_units):
    from tests.support.tiny import insert_units, truncate_data

    truncate_data(conn)
    insert_units(conn, tiny_units)
    official = [
        (A, A_GEOM, "urban"),
        (B, shapely.box(106.655, 35.53, 106.66, 35.54), "urban"),
        (C, shapely.box(106.655, 35.54, 106.66, 35.55), "urban"),
        (V1, shapely.box(106.66, 35.53, 106.665, 35.55), "rural"),
        (V2, shapely.box(106.665, 35.53, 106.67, 35.55), "rural"),
    ]
    with db.transaction(conn) as cur:
        for layer, grids in [("official", official)] + [
            (
                d,
                [
                    (VILLAGE + "101", shapely.box(106.66, 35.53, 106.666, 35.55), "rural"),
                    (VILLAGE + "102", shapely.box(106.666, 35.53, 106.67, 35.55), "rural"),
                ],
            )
            for d in ("police", "urban_mgmt")
        ]:
            for code, geom, kind in grids:
                cur.execute(
                    """INSERT INTO grid (code, name, kind, layer, admin_code, geom)
                               VALUES (%s, %s, %s, %s, left(%s, 12), ST_Multi(ST_GeomFromText(%s, 4326)))""",
                    (code, f"{layer}{code[-3:]}", kind, layer, code, geom.wkt),
                )
        for name, (lon, lat) in HOUSEHOLDS.items():
            cur.execute(
                """INSERT INTO household (address, head_name, persons, admin_code, geom)
                           VALUES (%s, '欧阳娜娜', 3, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                (name, URBAN, lon, lat),
            )
        cur.execute("SELECT locate_points('household'::regclass)")
    from geo import pgserver as cluster

    with running_app(cluster.database_url(test=True)) as url:
        yield url


def fresh_plan(conn, code: str) -> int:
    """A new draft for the community (the page opens the latest draft)."""
    for p in planning.plans(conn, code):
        if p["status"] == "draft":
            planning.abandon(conn, p["id"])
    return planning.create(conn, code, name="browser test")


def open_planner(driver, url: str, code: str) -> None:
    driver.get(f"{url}/planner?community={code}")
    wait_for(lambda: driver.execute_script("return window.plannerState && window.plannerState()"), timeout=60, message="map")
    wait_for(
        lambda: driver.execute_script("const m = window.plannerMap(); return m.loaded() && !m.isMoving()"), message="map idle"
    )


def point(driver, lon: float, lat: float, dx: float = 0, dy: float = 0):
    """An ActionChains at the screen position of (lon, lat) on the map canvas, plus (dx, dy) pixels."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.CSS_SELECTOR, "#planner-map canvas")
    x, y = driver.execute_script(
        "const p = window.plannerMap().project([arguments[0], arguments[1]]); return [p.x, p.y];", lon, lat
    )
    return ActionChains(driver).move_to_element_with_offset(
        canvas, round(x + dx - canvas.size["width"] / 2), round(y + dy - canvas.size["height"] / 2)
    )


def set_mode(driver, mode: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"#pl-mode input[value={mode}]").click()
    wait_for(lambda: driver.execute_script("return window.plannerState().mode") == mode, message=f"{mode} mode")


def message(driver, expected: str) -> str:
    from selenium.webdriver.common.by import By

    try:
        return wait_for(
            lambda: expected in (m := driver.find_element(By.ID, "pl-msg").text) and m,
            timeout=60,
            message=f"{expected!r} in the message",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the message says {driver.find_element(By.ID, 'pl-msg').text!r}") from None


def click(driver, element_id: str) -> None:
    """Click a button once the page has enabled it (undo/redo wait for the refresh after an edit)."""
    from selenium.webdriver.common.by import By

    button = wait_for(lambda: (b := driver.find_element(By.ID, element_id)).is_enabled() and b, message=f"{element_id} enabled")
    button.click()


def score_is(driver, text: str) -> str:
    from selenium.webdriver.common.by import By

    return wait_for(lambda: driver.find_element(By.ID, "pl-score-value").text == text and text, message=f"score {text}")


def degrees_per_pixel(driver) -> float:
    return driver.execute_script("const m = window.plannerMap(); return m.unproject([1, 0]).lng - m.unproject([0, 0]).lng;")


def test_drag_a_vertex_snaps_onto_the_neighbours_edge_and_undo_restores_it_exactly(tiny_app, conn):
    from selenium.webdriver.common.by import By

    plan_id = fresh_plan(conn, URBAN)
    original = planning.grids(conn, plan_id)[A]["geom"]
    driver = chromium_driver(sign_in_as="planner")
    try:
        open_planner(driver, tiny_app, URBAN)
        assert driver.find_element(By.ID, "pl-score-value").text != "100.00%"  # the notch is a gap
        point(driver, 106.652, 35.54).click().perform()  # select A
        wait_for(lambda: driver.execute_script("return window.plannerState().selected") == [A], message="A selected")
        set_mode(driver, "edit")
        # Drag the notch's vertex to 4 pixels short of C's west edge (x = 106.655), in small steps.
        x0, y0 = driver.execute_script("const p = window.plannerMap().project(arguments[0]); return [p.x, p.y];", APEX)
        x1, y1 = driver.execute_script(
            "const p = window.plannerMap().project(arguments[0]); return [p.x - 4, p.y];", [106.655, APEX[1]]
        )
        drag = point(driver, *APEX).click_and_hold()
        steps = 6
        for _ in range(steps):
            drag = drag.move_by_offset(round((x1 - x0) / steps), round((y1 - y0) / steps))
        drag.release().perform()
        assert driver.execute_script("return window.plannerState().mode") == "edit"
        driver.find_element(By.ID, "pl-apply").click()
        message(driver, "已应用：编辑节点")
        score_is(driver, "100.00%")
        assert "→ 100.00%" in driver.find_element(By.ID, "pl-score").text  # the check's before → after
        moved = planning.grids(conn, plan_id)[A]["geom"]
        xs = {x for x, _ in moved.geoms[0].exterior.coords}
        assert max(xs) == 106.655 and 106.654 not in xs  # snapped exactly onto the edge, not 4 px short of it
        assert shapely.equals(moved, shapely.box(106.65, 35.53, 106.655, 35.55))
        click(driver, "pl-undo")
        message(driver, "已应用：撤销")
        assert planning.grids(conn, plan_id)[A]["geom"].wkb == shapely.MultiPolygon([original.geoms[0]]).wkb
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()


def test_split_along_a_line_drawn_with_clicks(tiny_app, conn):
    from selenium.webdriver.common.by import By

    plan_id = fresh_plan(conn, URBAN)
    driver = chromium_driver(sign_in_as="planner")
    try:
        open_planner(driver, tiny_app, URBAN)
        point(driver, 106.652, 35.54).click().perform()
        wait_for(lambda: driver.execute_script("return window.plannerState().selected") == [A], message="A selected")
        set_mode(driver, "split")
        point(driver, 106.6490, 35.536).click().perform()  # west of the community, across A, into B
        time.sleep(0.3)
        point(driver, 106.6560, 35.536).click().perform()
        driver.find_element(By.ID, "pl-apply").click()
        message(driver, "已应用：拆分")
        after = planning.grids(conn, plan_id)
        new = URBAN + "004"
        assert set(after) == {A, B, C, new} and after[new]["action"] == "new" and after[A]["action"] == "changed"
        assert after[A]["geom"].area + after[new]["geom"].area == pytest.approx(A_GEOM.area, rel=1e-9)
        assert shapely.symmetric_difference(shapely.union(after[A]["geom"], after[new]["geom"]), A_GEOM).area < 1e-15
        south = after[new]["geom"]  # the smaller piece gets the new code
        assert south.bounds[1] == 35.53 and abs(south.bounds[3] - 35.536) < 3 * degrees_per_pixel(driver)
        wait_for(lambda: driver.execute_script("return window.plannerState().grids") == 4, message="4 grids on the map")
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()


def test_move_households_picked_on_the_map_then_publish(tiny_app, conn):
    from selenium.webdriver.common.by import By

    from geo.planning.households import households

    plan_id = fresh_plan(conn, URBAN)
    ids = {r["address"]: r["id"] for r in db.rows(conn, "SELECT id, address FROM household")}
    before = {c: g["geom"].wkb for c, g in planning.grids(conn, plan_id).items()}
    driver = chromium_driver(sign_in_as="planner")
    try:
        open_planner(driver, tiny_app, URBAN)
        set_mode(driver, "move")
        assert driver.execute_script("return window.plannerState().households") == len(HOUSEHOLDS)
        point(driver, *HOUSEHOLDS["near_c"]).click().perform()
        wait_for(
            lambda: driver.execute_script("return window.plannerState().chosen") == [ids["near_c"]], message="household picked"
        )
        assert "已选 1 户：near_c 欧***" in driver.find_element(By.ID, "pl-hh-info").text  # address and masked name only
        point(driver, 106.6575, 35.545).click().perform()  # the target: C
        wait_for(lambda: driver.execute_script("return window.plannerState().target") == C, message="target C")
        driver.find_element(By.ID, "pl-move").click()
        msg = message(driver, "已应用：移交住户")
        assert "002：2 → 1 户（标准 300，-100%）" in msg and "003：1 → 2 户（标准 300，-99%）" in msg
        where = {h["id"]: h["grid"] for h in households(conn, plan_id)}
        assert where == {ids["in_a"]: A, ids["near_c"]: C, ids["deep_b"]: B, ids["in_c"]: C}
        assert db.scalar(conn, "SELECT grid_code FROM household WHERE id = %s", (ids["near_c"],)) == B  # not before publish
        click(driver, "pl-undo")
        message(driver, "已应用：撤销")
        assert {c: g["geom"].wkb for c, g in planning.grids(conn, plan_id).items()} == before
        click(driver, "pl-redo")
        message(driver, "已应用：重做")
        click(driver, "pl-publish")
        message(driver, "已发布")
        assert planning.get(conn, plan_id)["status"] == "published"
        assert {r["id"]: r["grid_code"] for r in db.rows(conn, "SELECT id, grid_code FROM household")} == {
            ids["in_a"]: A,
            ids["near_c"]: C,
            ids["deep_b"]: B,
            ids["in_c"]: C,
        }
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()


def test_accept_a_merged_layer_piece_from_its_list(tiny_app, conn):
    from selenium.webdriver.common.by import By

    plan_id = fresh_plan(conn, VILLAGE)
    driver = chromium_driver(sign_in_as="planner")
    try:
        open_planner(driver, tiny_app, VILLAGE)
        assert driver.execute_script("return window.plannerState().pieces") == 1
        item = driver.find_element(By.CSS_SELECTOR, "#pl-layers .pl-piece-change")
        assert "现属 002" in item.text and "建议归 001" in item.text and "公安警格→001" in item.text
        item.find_element(By.CSS_SELECTOR, "button.pl-primary").click()
        message(driver, "已应用：采纳部门分歧块")
        after = planning.grids(conn, plan_id)
        assert shapely.equals(after[V1]["geom"], shapely.box(106.66, 35.53, 106.666, 35.55))
        assert shapely.equals(after[V2]["geom"], shapely.box(106.666, 35.53, 106.67, 35.55))
        wait_for(lambda: driver.execute_script("return window.plannerState().pieces") == 0, message="no piece left")
        assert "无部门网格分歧" in driver.find_element(By.ID, "pl-layers").text
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()


def test_merge_two_grids_chosen_by_click_and_shift_click(tiny_app, conn):
    """A person selects B, Shift+clicks C and presses 合并所选 (MapLibre's box zoom used to
    take the Shift+mousedown, so the second grid was never selected)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    plan_id = fresh_plan(conn, URBAN)
    driver = chromium_driver(sign_in_as="planner")
    try:
        open_planner(driver, tiny_app, URBAN)
        point(driver, 106.6575, 35.535).click().perform()  # B
        wait_for(lambda: driver.execute_script("return window.plannerState().selected") == [B], message="B selected")
        point(driver, 106.6575, 35.545).key_down(Keys.SHIFT).click().key_up(Keys.SHIFT).perform()  # Shift+click C
        wait_for(lambda: driver.execute_script("return window.plannerState().selected") == [B, C], message="B and C selected")
        driver.find_element(By.ID, "pl-merge").click()
        message(driver, "已应用：合并")
        after = planning.grids(conn, plan_id)
        assert set(after) == {A, B}
        assert shapely.equals(after[B]["geom"], shapely.box(106.655, 35.53, 106.66, 35.55))
        wait_for(lambda: driver.execute_script("return window.plannerState().grids") == 2, message="2 grids on the map")
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()
