"""The planner's workbench in a real headless Chromium.

On the demo — the issue's "done when": every deliberate defect listed and on the map, a gap
and an overlap fixed by editing, the coverage score rising, publish, and the old version on
the map. The demo community is put back afterwards (tests/test_planning_demo.restore).

On small exact geometries (an app on the test database, `tiny_app`), the editing tools
driven through the real map with mouse events: a vertex dragged near a neighbour's edge
snaps onto it and undo restores the grid bit for bit; a split along a line drawn with
clicks; households picked on the map and moved to another grid, then published; a 多网合一
piece accepted from its list; two grids merged by click and Shift+click on a community with no
draft, which looking at did not create.

What the tests check is what a person sees: texts on the page, the features the map draws (read
from the map, as nothing else shows them) and rows in the database. Nothing is set by script."""

from __future__ import annotations

import time

import pytest
import shapely

from geo import db
from geo import pgserver as cluster
from geo.planning import drafts as planning
from geo.planning.publish import grids_at
from tests.browser.chromium import chromium_driver, requested_urls, severe_console_errors, wait_for
from tests.support.planning import fixable_community, restore
from tests.support.webapp import ROOT, ensure_account, running_app

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


SPATIAL = "#pl-defects .pl-gap, #pl-defects .pl-sliver, #pl-defects .pl-overlap, #pl-defects .pl-crossing"


def test_fix_a_gap_and_an_overlap_publish_and_see_the_old_version(app_url, demo_url):
    from selenium.webdriver.common.by import By

    conn = db.connect(demo_url)
    code, plan_id, found = fixable_community(conn)
    old = grids_at(conn, code)
    for p in planning.plans(conn, code):  # drafts left by other tests: the page opens the latest
        if p["status"] == "draft" and p["id"] != plan_id:
            planning.abandon(conn, p["id"])
    driver = chromium_driver()
    try:
        open_planner(driver, app_url, code)
        assert len(grid_rows(driver)) == len(found["own"])
        assert len(driver.find_elements(By.CSS_SELECTOR, SPATIAL)) == len(found["check"].defects)
        assert set(drawn(driver, "grids-fill")) == found["own"]  # every grid on the map
        assert f"#{plan_id}" in driver.find_element(By.ID, "pl-plan-label").text
        # A click on a defect flies the map to it: the overlap is drawn at the map's centre.
        driver.find_element(By.CSS_SELECTOR, "#pl-defects .pl-overlap .pl-fly").click()
        wait_for(lambda: "overlap" in drawn_at_centre(driver, "defects-fill", "kind"), timeout=20, message="fly to the defect")
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
        open_planner(driver, app_url, code)  # reloaded, as a person does for the whole community in view
        time.sleep(1.5)
        driver.save_screenshot(str(SCREENSHOT))
        # Publish: the grids in force are shown (no new draft until the next edit); the old
        # version is one choice away.
        driver.find_element(By.ID, "pl-publish").click()
        wait_for(lambda: "已发布" in driver.find_element(By.ID, "pl-msg").text, timeout=90, message="publish")
        assert planning.get(conn, plan_id)["status"] == "published"
        assert planning.latest_draft(conn, code) is None
        wait_for(lambda: "尚无草稿" in driver.find_element(By.ID, "pl-plan-label").text, message="no draft after publish")
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
        wait_for(lambda: drawn(driver, "diff-fill", "change"), timeout=60, message="the changed pieces on the map")
        assert set(drawn(driver, "diff-old")) == set(old)  # the old version's outlines, every grid
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
        open_planner(driver, app_url, code)
        set_mode(driver, "draw")
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

    with running_app(cluster.database_url(test=True)) as url:
        yield url


def fresh_plan(conn, code: str) -> int:
    """A new draft for the community (the page opens the latest draft)."""
    for p in planning.plans(conn, code):
        if p["status"] == "draft":
            planning.abandon(conn, p["id"])
    return planning.create(conn, code, name="browser test")


def open_planner(driver, url: str, code: str) -> None:
    """The planner opened at the community's address, once its grids are drawn and the map is still."""
    driver.get(f"{url}/planner?community={code}")
    wait_for(lambda: drawn(driver, "grids-fill"), timeout=60, message="the grids on the map")
    idle(driver)


def idle(driver) -> None:
    wait_for(
        lambda: driver.execute_script("const m = window.plannerMap(); return m && m.loaded() && !m.isMoving()"),
        message="map idle",
    )


def drawn(driver, layer: str, prop: str = "code") -> list:
    """The distinct `prop` values of the features the map draws in `layer` now (a canvas
    shows nothing to the DOM, so the map is asked what it rendered, as a person sees it)."""
    values = driver.execute_script(
        """const m = window.plannerMap();
           if (!m || !m.getLayer(arguments[0])) return [];
           return m.queryRenderedFeatures({layers: [arguments[0]]}).map((f) => f.properties[arguments[1]]);""",
        layer,
        prop,
    )
    return sorted(set(values or []), key=str)


def drawn_at_centre(driver, layer: str, prop: str) -> list:
    """What the map draws in `layer` at the middle of the canvas (where it flew to)."""
    return driver.execute_script(
        """const m = window.plannerMap(); if (!m || m.isMoving()) return [];
           const c = m.getCanvas(), x = c.clientWidth / 2, y = c.clientHeight / 2;
           return m.queryRenderedFeatures([[x - 3, y - 3], [x + 3, y + 3]], {layers: [arguments[0]]})
                   .map((f) => f.properties[arguments[1]]);""",
        layer,
        prop,
    )


def grid_rows(driver) -> list[str]:
    """The grid list beside the map: each row's text."""
    from selenium.webdriver.common.by import By

    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#pl-grids tbody tr")]


def selection(driver) -> str:
    """What the page says is selected (the white outline's words)."""
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "pl-sel-info").text


def wait_selected(driver, codes: list[str]) -> None:
    expected = "已选网格：" + "、".join(c[-3:] for c in codes)
    wait_for(lambda: selection(driver) == expected, message=f"{expected!r} shown; it reads {selection(driver)!r}")


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
    """Click the tool's radio button; the map answers with the crosshair cursor (an arrow in 选择)."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"#pl-mode input[value={mode}]").click()
    canvas = driver.find_element(By.CSS_SELECTOR, "#planner-map canvas")
    cursor = "crosshair" if mode != "select" else "auto"
    wait_for(
        lambda: (
            driver.find_element(By.CSS_SELECTOR, f"#pl-mode input[value={mode}]").is_selected()
            and canvas.value_of_css_property("cursor") == cursor
        ),
        message=f"{mode} mode",
    )


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
        wait_selected(driver, [A])
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
        assert driver.find_element(By.CSS_SELECTOR, "#pl-mode input[value=edit]").is_selected()
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
        wait_selected(driver, [A])
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
        wait_for(lambda: len(grid_rows(driver)) == 4, message="4 grids in the list")
        wait_for(lambda: drawn(driver, "grids-fill") == [A, B, C, new], message="4 grids on the map")
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
        assert len(drawn(driver, "households", "id")) == len(HOUSEHOLDS)
        point(driver, *HOUSEHOLDS["near_c"]).click().perform()
        wait_for(lambda: drawn(driver, "households-selected", "id") == [ids["near_c"]], message="household ringed")
        assert driver.find_element(By.ID, "pl-hh-info").text == "已选 1 户：near_c 欧***"  # address and masked name only
        point(driver, 106.6575, 35.545).click().perform()  # the target: C
        wait_for(lambda: "003 " in driver.find_element(By.ID, "pl-move-target").text, message="target C chosen")
        assert drawn(driver, "grids-target") == [C]  # and outlined on the map
        driver.find_element(By.ID, "pl-move").click()
        msg = message(driver, "已应用：移交住户")
        assert "002：2 → 1 户（标准 300，-99%）" in msg and "003：1 → 2 户（标准 300，-99%）" in msg
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
        assert len(driver.find_elements(By.CSS_SELECTOR, "#pl-layers .pl-piece")) == 1 and drawn(driver, "pieces-fill", "key")
        item = driver.find_element(By.CSS_SELECTOR, "#pl-layers .pl-piece-change")
        assert "现属 002" in item.text and "建议归 001" in item.text and "公安警格→001" in item.text
        item.find_element(By.CSS_SELECTOR, "button.pl-primary").click()
        message(driver, "已应用：采纳部门分歧块")
        after = planning.grids(conn, plan_id)
        assert shapely.equals(after[V1]["geom"], shapely.box(106.66, 35.53, 106.666, 35.55))
        assert shapely.equals(after[V2]["geom"], shapely.box(106.666, 35.53, 106.67, 35.55))
        wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, "#pl-layers .pl-piece"), message="no piece left")
        assert drawn(driver, "pieces-fill", "key") == []
        assert "无部门网格分歧" in driver.find_element(By.ID, "pl-layers").text
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()


def drafts(conn, *codes: str) -> list[dict]:
    """The draft rows of these communities, as the database holds them now."""
    conn.commit()
    return db.rows(
        conn,
        "SELECT id, admin_code, created_by FROM plan WHERE status = 'draft' AND admin_code = ANY(%s) ORDER BY id",
        (list(codes),),
    )


def no_drafts(conn, *codes: str) -> None:
    for p in drafts(conn, *codes):
        planning.abandon(conn, p["id"])


def test_looking_creates_no_draft_and_the_first_merge_does(tiny_app, conn):
    """A person opens the village by its address, picks the urban community in the list (the
    address follows), looks, and no draft exists; B, then Shift+click C, 合并所选: now one draft
    exists, holding the merge, started by this account. (Opening a community used to create a
    draft, so every visit left one; MapLibre's box zoom took the Shift+mousedown, so the second
    grid was never selected.)"""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    no_drafts(conn, URBAN, VILLAGE)
    driver = chromium_driver(sign_in_as="planner")
    try:
        open_planner(driver, tiny_app, VILLAGE)
        assert drawn(driver, "grids-fill") == [V1, V2] and "尚无草稿" in driver.find_element(By.ID, "pl-plan-label").text
        # another community, chosen in the list by typing part of its name
        driver.find_element(By.CSS_SELECTOR, "#pl-community").click()
        ActionChains(driver).pause(0.3).send_keys("社区").perform()
        option = wait_for(
            lambda: [
                o for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option, [role=option]") if "社区" in o.text
            ],
            message="the urban community offered",
        )[0]
        ActionChains(driver).move_to_element(option).click().perform()
        wait_for(lambda: drawn(driver, "grids-fill") == [A, B, C], timeout=30, message="the urban community's grids")
        wait_for(lambda: f"community={URBAN}" in driver.current_url, message="the address names it")
        assert len(grid_rows(driver)) == 3 and "尚无草稿" in driver.find_element(By.ID, "pl-plan-label").text
        assert drafts(conn, URBAN, VILLAGE) == []  # looked at two communities: nothing written
        assert not driver.find_element(By.ID, "pl-publish").is_enabled()  # nothing to publish yet
        idle(driver)
        point(driver, 106.6575, 35.535).click().perform()  # B
        wait_selected(driver, [B])
        point(driver, 106.6575, 35.545).key_down(Keys.SHIFT).click().key_up(Keys.SHIFT).perform()  # Shift+click C
        wait_selected(driver, [B, C])
        assert drafts(conn, URBAN) == []  # selecting is not editing
        driver.find_element(By.ID, "pl-merge").click()
        message(driver, "已应用：合并")
        made = drafts(conn, URBAN, VILLAGE)
        me = ensure_account(cluster.database_url(test=True), "planner")
        assert [(p["admin_code"], p["created_by"]) for p in made] == [(URBAN, me)]
        plan_id = made[0]["id"]
        assert [e["op"] for e in planning.history(conn, plan_id)["edits"]] == ["merge"]
        after = planning.grids(conn, plan_id)
        assert set(after) == {A, B}
        assert shapely.equals(after[B]["geom"], shapely.box(106.655, 35.53, 106.66, 35.55))
        wait_for(lambda: f"#{plan_id}" in driver.find_element(By.ID, "pl-plan-label").text, message="the draft named")
        assert driver.find_element(By.ID, "pl-publish").is_enabled()
        wait_for(lambda: len(grid_rows(driver)) == 2, message="2 grids in the list")
        wait_for(lambda: drawn(driver, "grids-fill") == [A, B], message="2 grids on the map")
        # a reload opens the same draft and creates no other
        open_planner(driver, tiny_app, URBAN)
        assert f"#{plan_id}" in driver.find_element(By.ID, "pl-plan-label").text and len(drafts(conn, URBAN)) == 1
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()


def test_a_refused_first_edit_leaves_no_draft_and_insisting_makes_one(tiny_app, conn):
    """A grid drawn over B with no draft open: the check refuses it for its overlap, and no
    draft is left behind (an empty one used to be named on the page and offered for
    publishing); 仍然应用 then makes the draft, holding the drawn grid."""
    from selenium.webdriver.common.by import By

    no_drafts(conn, URBAN)
    driver = chromium_driver(sign_in_as="planner")
    try:
        open_planner(driver, tiny_app, URBAN)
        set_mode(driver, "draw")
        for lon, lat in ((106.656, 35.532), (106.659, 35.532), (106.659, 35.538), (106.656, 35.538)):
            point(driver, lon, lat).click().perform()
            time.sleep(0.3)
        driver.find_element(By.ID, "pl-apply").click()
        assert "重叠" in message(driver, "未应用")
        assert drafts(conn, URBAN) == []
        assert "尚无草稿" in driver.find_element(By.ID, "pl-plan-label").text
        assert not driver.find_element(By.ID, "pl-publish").is_enabled()
        click(driver, "pl-force")
        message(driver, "已应用：画网格")
        made = drafts(conn, URBAN)
        assert len(made) == 1 and [e["op"] for e in planning.history(conn, made[0]["id"])["edits"]] == ["draw"]
        wait_for(lambda: f"#{made[0]['id']}" in driver.find_element(By.ID, "pl-plan-label").text, message="the draft named")
        assert severe_console_errors(driver) == []
    finally:
        driver.quit()
