"""三类用户的一天: an operator, a leader and a planner each do a day's work on a county built
here (not the demo), through the pages only, with a person's gestures (clicks, Shift+clicks,
typing through Selenium's ActionChains), checking after each step what a person would see:
feedback in the viewport, lists refreshed, the same number under the same label everywhere.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import shapely

from geo import db
from geo import pgserver as cluster
from geo.analysis import indicators
from geo.incidents import lifecycle
from geo.risk import tiers as risk
from geo.worktime import CST
from tests.browser.chromium import chromium_driver, severe_console_errors, wait_for
from tests.support.drill import add_incidents
from tests.support.webapp import ensure_account, running_app

NOW = datetime.now(CST)
TOWN, URBAN, VILLAGE = "620802001", "620802001001", "620802001002"
A, B, C = URBAN + "001", URBAN + "002", URBAN + "003"
IN_A, IN_B = (106.6525, 35.54), (106.6575, 35.535)
OLD = datetime(NOW.year - 1, 11, 26, 9, 30, tzinfo=CST)  # a ledger row of last year, imported last


@pytest.fixture(scope="module")
def county(conn, tiny_units, categories):
    """Three grids in the urban community, one in the village, households, a year of cases:
    12 disputes settled at village level, 2 overdue, 1 reported this morning, and last year's
    ledger row inserted after all of them (the highest id, the oldest report)."""
    from tests.support.tiny import insert_units, truncate_data

    truncate_data(conn)
    insert_units(conn, tiny_units)
    risk.ensure_config(conn)
    grids = [
        (A, "新民社区第1网格", "urban", shapely.box(106.65, 35.53, 106.655, 35.55)),
        (B, "新民社区第2网格", "urban", shapely.box(106.655, 35.53, 106.66, 35.54)),
        (C, "新民社区第3网格", "urban", shapely.box(106.655, 35.54, 106.66, 35.55)),
        (VILLAGE + "001", "柳湖村第1网格", "rural", shapely.box(106.66, 35.53, 106.67, 35.55)),
    ]
    with db.transaction(conn) as cur:
        for code, name, kind, geom in grids:
            cur.execute(
                """INSERT INTO grid (code, name, kind, layer, admin_code, geom)
                   VALUES (%s, %s, %s, 'official', left(%s, 12), ST_Multi(ST_GeomFromText(%s, 4326)))""",
                (code, name, kind, code, geom.wkt),
            )
        for k, (lon, lat) in enumerate([IN_A, IN_B, (106.6575, 35.545), (106.665, 35.54)]):
            cur.execute(
                """INSERT INTO household (address, head_name, persons, admin_code, geom)
                   VALUES (%s, '欧阳娜娜', 3, left(community_of(ST_SetSRID(ST_MakePoint(%s, %s), 4326)), 12),
                           ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                (f"新民路{k + 1}号", lon, lat, lon, lat),
            )
        cur.execute("SELECT locate_points('household'::regclass)")
        cur.execute(
            """INSERT INTO grid_staff (grid_code, role, name, phone, admin_code)
               VALUES (%s, 'leader', '王建国', '13812345678', %s), (%s, 'fulltime', '李梅', '13900001111', %s),
                      (%s, 'fulltime', '赵强', '13700002222', %s)""",
            (A, URBAN, A, URBAN, B, URBAN),
        )
    add_incidents(conn, [IN_A] * 12, reported_at=NOW - timedelta(days=20))
    add_incidents(conn, [IN_B] * 2, status="in_progress", reported_at=NOW - timedelta(days=12), deadline_days=3)
    add_incidents(conn, [IN_B], status="received", reported_at=NOW - timedelta(minutes=30), deadline_days=5)
    add_incidents(conn, [IN_A], status="closed", reported_at=OLD)
    with db.transaction(conn) as cur:
        cur.execute("UPDATE incident SET level_handled = 'community' WHERE status IN ('closed', 'followed_up')")
        cur.execute("UPDATE incident SET title = '去年台账：' || id WHERE reported_at < %s", (NOW - timedelta(days=200),))
    risk.recompute_incidents(conn)
    with running_app(cluster.database_url(test=True), QUANYU_LIVE_SECONDS="1") as url:
        yield url


# --------------------------------------------------------------------------- gestures and what a person sees


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def click(driver, selector: str) -> None:
    """A mouse click on what a person sees (moved to, then clicked); a component Dash
    re-renders meanwhile is found again, as a person would look again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains

    for attempt in range(5):
        try:
            element = wait_for(lambda: (e := css(driver, selector)).is_displayed() and e, message=f"{selector} visible")
            ActionChains(driver).scroll_to_element(element).perform()  # the wheel, as a person scrolls to it
            ActionChains(driver).move_to_element(element).click().perform()
            return
        except StaleElementReferenceException:
            if attempt == 4:
                raise
            time.sleep(0.5)


def type_into(driver, selector: str, text: str) -> None:
    """Click into a field and type; if the page was still settling and ate keystrokes, select
    what is there and type it again, as a person who looks at the field would."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(3):
        click(driver, selector)
        ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(Keys.DELETE).send_keys(
            text
        ).perform()
        time.sleep(0.3)
        if css(driver, selector).get_attribute("value") == text:
            return
    raise AssertionError(f"{selector} reads {css(driver, selector).get_attribute('value')!r}, typed {text!r}")


def choose(driver, dropdown: str, text: str) -> None:
    """Open a dropdown, type to search it and click the option that reads `text`."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    for attempt in range(5):
        try:
            click(driver, f"#{dropdown}")
            ActionChains(driver).pause(0.3).send_keys(text).perform()
            option = wait_for(
                lambda: [
                    o
                    for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option, [role=option]")
                    if o.text.startswith(text)
                ],
                message=f"option {text} of {dropdown}",
            )[0]
            ActionChains(driver).move_to_element(option).click().perform()
            wait_for(lambda: text in text_of(driver, f"#{dropdown}"), message=f"{text} chosen in {dropdown}")
            return
        except StaleElementReferenceException:
            if attempt == 4:
                raise
            time.sleep(0.5)


def text_of(driver, selector: str) -> str:
    """What a person reads in the element now ("" while Dash is replacing it)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        return css(driver, selector).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def in_viewport(driver, selector: str) -> bool:
    """Whether the element is on screen without scrolling (reading the layout, setting nothing)."""
    return driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight;",
        selector,
    )


def menu_to(driver, label: str) -> list[str]:
    """Open the page menu (the big screen's ☰, or the desk header) and click `label`; the labels offered."""
    from selenium.webdriver.common.by import By

    if driver.find_elements(By.ID, "screen-menu"):
        click(driver, "#screen-menu-button")
        links = driver.find_elements(By.CSS_SELECTOR, "#screen-menu .screen-menu-list a")
    else:
        links = driver.find_elements(By.CSS_SELECTOR, "#page-nav a")
    labels = [a.text for a in links]
    target = next(a for a in links if a.text == label)
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element(target).click().perform()
    return labels


def queue_cell(driver, incident_id: int, column: str) -> str | None:
    """The text of the work queue's `column` in the row of this case (None while not listed)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        for row in driver.find_elements(By.CSS_SELECTOR, "#in-queue tbody tr"):
            ids = row.find_elements(By.CSS_SELECTOR, 'td[data-dash-column="id"]')
            if ids and ids[0].text == str(incident_id):
                return row.find_element(By.CSS_SELECTOR, f'td[data-dash-column="{column}"]').text
    except StaleElementReferenceException:
        return None
    return None


def feed_titles(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.get_attribute("textContent") for e in driver.find_elements(By.CSS_SELECTOR, "#feed .feed-title")]


@contextmanager
def day_of(url: str, role: str):
    """A browser signed in as `role`, starting the day on the big screen; the day ends with
    no error in the browser's console."""
    d = chromium_driver(sign_in_as=role)
    try:
        open_screen(d, url)
        yield d
        assert severe_console_errors(d) == []
    finally:
        d.quit()


def open_screen(driver, url: str) -> None:
    driver.get(url + "/")
    try:
        wait_for(lambda: feed_titles(driver), timeout=60, message="the big screen's feed")
    except AssertionError:
        driver.save_screenshot("/tmp/userday-screen.png")
        raise AssertionError(f"no feed on {driver.current_url}: {driver.find_element('tag name', 'body').text[:300]!r}") from None


# --------------------------------------------------------------------------- the operator


def test_an_operators_day(county, conn):
    from selenium.webdriver.common.by import By

    url = county
    with day_of(url, "operator") as d:
        # the feed by report time: this morning's case first, last year's ledger row last, with its year
        items = d.find_elements(By.CSS_SELECTOR, "#feed .feed-item")
        assert len(items) == 16
        # (read as text content: the last items sit below the panel's fold)
        times = [e.find_element(By.CSS_SELECTOR, ".feed-time").get_attribute("textContent") for e in items]
        assert times[-1] == f"{OLD:%Y-%m-%d %H:%M}" and feed_titles(d)[-1].startswith("去年台账")
        assert len(times[0]) == 5  # today: the time alone
        # KPIs with their windows; the same numbers the definitions give
        ref = indicators.compute(conn, "", *indicators.last_days(365, NOW))
        assert text_of(d, "#kpi-open .kpi-value") == str(ref["open"]) == "3"
        assert text_of(d, "#kpi-overdue .kpi-value") == "2" and text_of(d, "#kpi-open .kpi-hint") == "当前"
        assert text_of(d, "#kpi-resolution .kpi-value") == indicators.pct(ref["resolution_rate"])
        assert "近365天" in text_of(d, "#kpi-resolution .kpi-hint")

        # to the intake page through the menu; the operator's menu has no planner
        labels = menu_to(d, "事件受理")
        assert "网格规划" not in labels and "研判分析" in labels
        wait_for(lambda: d.find_elements(By.ID, "in-save"), timeout=30, message="the intake form")
        # the form's button is on screen at 1920x1080 from the start, not half below the fold
        time.sleep(1)
        assert in_viewport(d, "#in-save")
        # and the duplicate choice reads as one line: the radio beside its words, not above them
        radio = css(d, "#in-merge input").rect
        words = css(d, "#in-merge .dash-options-list-option-text").rect
        assert abs((radio["y"] + radio["height"] / 2) - (words["y"] + words["height"] / 2)) < 6 and words["x"] > radio["x"]
        # a caller reports a quarrel: coordinates read out, category picked, description typed
        type_into(d, "#in-lon", "106.6576")
        type_into(d, "#in-lat", "35.5351")
        choose(d, "in-major", "矛盾纠纷")
        choose(d, "in-minor", "邻里纠纷")
        type_into(d, "#in-description", "楼上装修噪音，双方争吵")
        try:
            wait_for(lambda: "新民社区第2网格" in text_of(d, "#in-preview"), timeout=60, message="routing preview")
        except AssertionError:
            d.save_screenshot("/tmp/userday-intake.png")
            raise AssertionError(f"preview reads {text_of(d, '#in-preview')!r}") from None
        before = db.scalar(conn, "SELECT max(id) FROM incident")
        conn.commit()
        click(d, "#in-save")
        # the answer is on screen where the operator is looking, and the form is empty again
        toast = wait_for(lambda: d.find_elements(By.ID, "in-toast-saved"), timeout=20, message="saved confirmation")[0]
        new_id = db.scalar(conn, "SELECT max(id) FROM incident")
        conn.commit()
        assert new_id > before and f"#{new_id}" in toast.text and in_viewport(d, "#in-toast-saved")
        assert css(d, "#in-description").get_attribute("value") == ""
        assert css(d, "#in-lon").get_attribute("value") == ""

        # the work queue: open it by number, register and dispatch it with the buttons
        click(d, "#in-tab label:nth-of-type(3)")
        # every case counted, a page at a time
        wait_for(lambda: text_of(d, "#in-q-count").startswith("共 17 件"), timeout=20, message="the queue's count")
        type_into(d, "#in-q-id", str(new_id))
        click(d, "#in-q-open")

        def status():
            els = d.find_elements(By.ID, "in-detail-status")
            return els[0].get_attribute("data-status") if els else None

        wait_for(lambda: status() == "received", timeout=30, message="the new case's detail")
        click(d, ".in-tr-registered")
        wait_for(lambda: status() == "registered", timeout=20, message="status registered")
        # dispatch: the operator chooses whom to send, the grid's full-time worker
        choose(d, "in-tr-to", "专职 赵强")
        click(d, ".in-tr-dispatched")
        wait_for(lambda: status() == "dispatched", timeout=20, message="status dispatched")
        # whom it went to, in its own column of the history and of the queue (not in the note)
        sent = [
            r.find_element(By.CSS_SELECTOR, ".in-h-assignee").text
            for r in d.find_elements(By.CSS_SELECTOR, "#in-history tbody tr")
        ]
        assert sent == ["", "", "专职 赵强"]
        wait_for(lambda: queue_cell(d, new_id, "assigned_to") == "专职 赵强", timeout=20, message="派遣给 in the queue")
        conn.commit()
        assert db.scalar(conn, "SELECT assigned_to FROM incident WHERE id = %s", (new_id,)) == "专职 赵强"
        history = [
            r.find_element(By.CSS_SELECTOR, ".in-h-actor").text for r in d.find_elements(By.CSS_SELECTOR, "#in-history tbody tr")
        ]
        me = f"测试operator({ensure_account(cluster.database_url(test=True), 'operator')})"
        assert history == [me] * 3  # every row names the account, the first ("received") too

        # back to the big screen through the header: the new case heads the feed, dispatched
        menu_to(d, "指挥大屏")
        wait_for(lambda: feed_titles(d), timeout=60, message="the big screen again")
        wait_for(
            lambda: d.find_elements(By.CSS_SELECTOR, f"#feed .feed-item:first-child#feed-{new_id}"),
            timeout=20,
            message="the new case first",
        )
        assert "已派遣" in text_of(d, f"#feed-{new_id}")
        assert text_of(d, "#kpi-open .kpi-value") == "4"
        # a colleague closes it in the work queue: the wall follows without a reload
        lifecycle.transition(conn, new_id, "in_progress", actor="colleague")
        lifecycle.transition(conn, new_id, "verified", actor="colleague")
        lifecycle.transition(conn, new_id, "closed", actor="colleague")
        wait_for(lambda: "已结案" in text_of(d, f"#feed-{new_id}"), timeout=20, message="the feed shows the case closed")
        wait_for(lambda: text_of(d, "#kpi-open .kpi-value") == "3", timeout=20, message="在办 back to 3")


# --------------------------------------------------------------------------- the leader


def test_a_leaders_day(county, conn):
    from selenium.webdriver.common.by import By

    url = county
    with day_of(url, "leader") as d:
        screen_open = text_of(d, "#kpi-open .kpi-value")
        # the leader's menu: the screen and 研判, no intake, no planning
        labels = menu_to(d, "研判分析")
        assert "事件受理" not in labels and "网格规划" not in labels
        value = wait_for(lambda: d.find_elements(By.ID, "drill-kpi-resolution_rate"), timeout=60, message="the drill page")[0]
        # the same 化解率 as the definitions give over the window the page names
        assert text_of(d, "#drill-kpi-window-resolution_rate") == "近90天"
        conn.commit()
        ref = indicators.compute(conn, "620802", *indicators.last_days(90, NOW))
        assert value.text == indicators.pct(ref["resolution_rate"]) != indicators.INSUFFICIENT
        # 在办 reads as on the big screen, both "as of now"
        assert text_of(d, "#drill-kpi-open") == screen_open and text_of(d, "#drill-kpi-window-open") == "当前"
        assert text_of(d, "#drill-kpi-incidents") == f"{ref['incidents']:,}"
        # the map names its areas (labels drawn from our own glyphs)
        wait_for(
            lambda: d.execute_script("return window.drillMap.queryRenderedFeatures({layers: ['children-label']}).length"),
            timeout=30,
            message="names on the drill map",
        )
        # down to the town, then the community, by clicking their names
        for code in (TOWN, URBAN):
            click(d, f'#drill-children a[data-code="{code}"]')
            wait_for(
                lambda code=code: d.find_elements(By.CSS_SELECTOR, f'#drill-breadcrumb [data-code="{code}"]'),
                timeout=30,
                message=f"{code} in the breadcrumb",
            )
        conn.commit()
        urban = indicators.compute(conn, URBAN, *indicators.last_days(90, NOW))
        wait_for(
            lambda: text_of(d, "#drill-kpi-incidents") == f"{urban['incidents']:,}", timeout=30, message="the community's count"
        )
        assert text_of(d, "#drill-kpi-open") == f"{urban['open']:,}"
        # the grid: who answers for it, phone numbers masked
        click(d, f'#drill-children a[data-code="{A}"]')
        staff = wait_for(lambda: text_of(d, "#drill-staff"), timeout=30, message="the grid's staff")
        assert "网格长 王建国 138****5678" in staff and "李梅" in staff and "13900001111" not in staff
        # the 季通报 beside it: the town ranked with the same rate over its quarter; no empty unit ranked
        quarter_rows = d.find_elements(By.CSS_SELECTOR, "#drill-rank-towns tbody tr")
        assert len(quarter_rows) == 1 and "东关街道" in quarter_rows[0].text
        # last year's fourth quarter, picked in the panel: one ledger case, too few for a rate
        last_q4 = f"{NOW.year - 1}Q4"
        choose(d, "drill-quarter", last_q4)
        wait_for(lambda: last_q4 in text_of(d, "#drill-rankings .panel-title"), timeout=30, message="the chosen quarter")
        row = text_of(d, "#drill-rank-towns tbody tr")
        assert "东关街道" in row and indicators.INSUFFICIENT in row
        assert f"quarter={last_q4}" in d.current_url


# --------------------------------------------------------------------------- the planner


def test_a_planners_day(county, conn):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.browser.test_planner import drawn, idle, point, wait_selected

    url = county
    with day_of(url, "planner") as d:
        labels = menu_to(d, "网格规划")
        assert "网格规划" in labels and "事件受理" not in labels
        wait_for(lambda: drawn(d, "grids-fill"), timeout=60, message="the map")
        idle(d)
        wait_for(lambda: drawn(d, "grids-label") == [A, B, C], timeout=30, message="grid labels on the map")
        # the address names the community shown (a link to send, a page to reload)
        wait_for(lambda: f"community={URBAN}" in d.current_url, message="the community in the URL")
        assert "新民社区第3网格" in text_of(d, "#pl-grids")
        # looking is not editing: no draft yet, and the page says so
        assert "尚无草稿" in text_of(d, "#pl-plan-label")
        conn.commit()
        assert db.scalar(conn, "SELECT count(*) FROM plan WHERE status = 'draft'") == 0
        # B, then C with Shift held, then 合并所选
        point(d, *IN_B).click().perform()
        wait_selected(d, [B])
        point(d, 106.6575, 35.545).key_down(Keys.SHIFT).click().key_up(Keys.SHIFT).perform()
        wait_selected(d, [B, C])
        click(d, "#pl-merge")
        wait_for(lambda: "已应用：合并" in text_of(d, "#pl-msg"), timeout=60, message="merged")
        conn.commit()
        assert db.scalar(conn, "SELECT count(*) FROM plan WHERE status = 'draft' AND admin_code = %s", (URBAN,)) == 1
        # the lists follow the edit at once: C is gone from the grids and from the problems
        wait_for(lambda: "新民社区第3网格" not in text_of(d, "#pl-grids"), timeout=30, message="C gone from the grid list")
        assert "新民社区第3网格" not in text_of(d, "#pl-defects") and "003" not in text_of(d, "#pl-defects")
        assert in_viewport(d, "#pl-msg")
        assert d.find_elements(By.CSS_SELECTOR, "#pl-undo:not([disabled])")
        # the draft against what is in force, counted in grids
        choose(d, "pl-diff", "草稿 vs 现行")
        summary = wait_for(lambda: text_of(d, "#pl-diff-summary"), timeout=30, message="the comparison")
        assert summary.startswith("网格 3 → 2 个：新建 0 个，撤销 1 个，调整 1 个")
        # publish: the message names the grid the merge retired
        click(d, "#pl-publish")
        wait_for(lambda: "已发布" in text_of(d, "#pl-msg"), timeout=90, message="published")
        assert f"1 个网格换新版本，新增 0 个，撤销 1 个（{C}）" in text_of(d, "#pl-msg")
        conn.commit()
        assert db.scalar(conn, "SELECT count(*) FROM grid_current WHERE code IN (%s, %s)", (B, C)) == 1
        # after publishing: no draft, nothing to publish, until the next gesture
        wait_for(lambda: "尚无草稿" in text_of(d, "#pl-plan-label"), timeout=30, message="no draft after publish")
        assert not css(d, "#pl-publish").is_enabled()
        assert db.scalar(conn, "SELECT count(*) FROM plan WHERE status = 'draft'") == 0
        # the auto-partition proposed, then adopted: the adoption starts the draft, the codes
        # stay with their ground (the new grid keeps the code of the grid it mostly covers)
        click(d, "#pl-partition")
        wait_for(lambda: "自动划分" in text_of(d, "#pl-proposal"), timeout=90, message="the proposal")
        wait_for(lambda: css(d, "#pl-accept").is_enabled(), message="采用 enabled")
        click(d, "#pl-accept")
        wait_for(lambda: "已应用：采用自动划分" in text_of(d, "#pl-msg"), timeout=90, message="adopted")
        conn.commit()
        draft = db.one(conn, "SELECT id, created_by FROM plan WHERE status = 'draft' AND admin_code = %s", (URBAN,))
        assert draft and draft["created_by"] == ensure_account(cluster.database_url(test=True), "planner")
        kept = {
            r["code"] for r in db.rows(conn, "SELECT code FROM plan_grid WHERE plan_id = %s AND geom IS NOT NULL", (draft["id"],))
        }
        assert kept and kept <= {A, B} | {URBAN + f"{n:03d}" for n in range(4, 10)}  # 003 is retired, never reused
        wait_for(lambda: f"#{draft['id']}" in text_of(d, "#pl-plan-label"), timeout=30, message="the draft named")
        # the dropdowns search in Chinese
        click(d, "#pl-diff")
        search = wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#pl-diff input, .dash-dropdown-search"), message="search box")
        assert [e.get_attribute("placeholder") for e in search if e.get_attribute("placeholder")] == ["搜索"]


# --------------------------------------------------------------------------- each role's main page, looked at

SHOTS = Path(os.environ.get("QUANYU_USERDAY_SHOTS", Path(tempfile.gettempdir()) / "userday-shots"))


def test_each_roles_main_page_as_a_person_sees_it(county, conn):
    """Screenshots of each role's main page on this county, at the wall's and a desk's size,
    to be looked at (QUANYU_USERDAY_SHOTS says where); each page loaded with no console error."""
    from selenium.webdriver.common.by import By

    from tests.browser.test_planner import drawn, idle

    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1920, 1080), (3840, 2160)):
        d = chromium_driver(width, height, sign_in_as="leader")
        try:
            open_screen(d, county)
            time.sleep(2)  # the charts' last redraw
            d.save_screenshot(str(SHOTS / f"bigscreen-{width}.png"))
            assert severe_console_errors(d) == []
        finally:
            d.quit()
    with day_of(county, "operator") as d:
        d.get(f"{county}/intake?incident={db.scalar(conn, 'SELECT max(id) FROM incident')}")
        conn.commit()
        wait_for(lambda: d.find_elements(By.ID, "in-detail-status"), timeout=60, message="the case's detail")
        time.sleep(1.5)
        d.save_screenshot(str(SHOTS / "intake-1920.png"))
        d.get(f"{county}/intake")
        wait_for(lambda: d.find_elements(By.ID, "in-save"), timeout=60, message="the intake form")
        time.sleep(1.5)
        d.save_screenshot(str(SHOTS / "intake-form-1920.png"))
    with day_of(county, "leader") as d:
        d.get(f"{county}/drill")
        wait_for(lambda: d.find_elements(By.ID, "drill-kpi-resolution_rate"), timeout=60, message="the drill page")
        time.sleep(2)
        d.save_screenshot(str(SHOTS / "drill-1920.png"))
        d.get(f"{county}/drill?code={A}")  # one grid: its people, its cases
        wait_for(lambda: text_of(d, "#drill-staff"), timeout=60, message="the grid's staff")
        time.sleep(2)
        d.save_screenshot(str(SHOTS / "drill-grid-1920.png"))
    with day_of(county, "planner") as d:
        d.get(f"{county}/planner?community={URBAN}")
        wait_for(lambda: drawn(d, "grids-fill"), timeout=60, message="the planner's map")
        idle(d)
        time.sleep(1)
        d.save_screenshot(str(SHOTS / "planner-1920.png"))
