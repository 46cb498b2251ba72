"""First run without the demo (issue #14, item 9): an empty database opens a page that says
what to do first, and the big screen of a jurisdiction without grids shows the remaining
steps instead of an empty map. The app behind its guard, on the (emptied) test database."""

from __future__ import annotations

import os

import pytest

from geo import pgserver
from geo.security import accounts
from tests.support.tiny import insert_units
from tests.support.webapp import TEST_PASSWORD


@pytest.fixture
def server(clean_db):
    old = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = pgserver.database_url(test=True)
    import app  # the one Dash app of the process

    yield app.server
    if old is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = old


def steps_of(page: str) -> dict[str, str]:
    """{step key: its status word} from the welcome page's list."""
    import re

    return dict(re.findall(r'id="step-(\w+)">\s*<span class="step-status">([^<]+)</span>', page))


def test_an_empty_database_says_what_to_do_first(server, clean_db, tiny_units):
    anon = server.test_client()
    for path in ("/", "/drill", "/import"):
        resp = anon.get(path)
        assert resp.status_code == 302 and resp.headers["Location"] == "/welcome", path
    page = anon.get("/welcome").get_data(as_text=True)
    assert "开始使用：导入本辖区数据" in page
    assert steps_of(page) == {
        "boundary": "下一步",
        "admin": "待完成",
        "grids": "待完成",
        "households": "可选",
        "incidents": "可选",
        "places": "可选",
        "staff": "可选",
    }
    assert "python -m geo import boundary" in page and "--unit 辖区代码" in page

    insert_units(clean_db, tiny_units)  # the boundary imported: the next step names the code
    page = anon.get("/welcome").get_data(as_text=True)
    assert steps_of(page)["boundary"] == "已完成" and steps_of(page)["admin"] == "下一步"
    assert "python -m geo user add admin --role admin --unit 620802" in page
    assert "辖区：崆峒区（620802）" in page

    accounts.create_user(clean_db, "admin", TEST_PASSWORD, "admin", "620802", "管理员")
    assert anon.get("/welcome").headers["Location"] == "/"  # no first-run page once an account exists
    assert anon.get("/").headers["Location"].startswith("/login")


def test_the_big_screen_of_a_jurisdiction_without_grids_lists_the_steps(server, clean_db, tiny_units, add_grids):
    import shapely

    from geo.web.pages import bigscreen

    insert_units(clean_db, tiny_units)
    accounts.create_user(clean_db, "admin", TEST_PASSWORD, "admin", "620802", "管理员")
    text = str(bigscreen.layout())
    assert "setup-panel" in text and "导入网格" in text and "step-grids" in text
    add_grids([("620802001001001", "一网格", "urban", shapely.box(106.65, 35.53, 106.655, 35.535))])
    assert "setup-panel" not in str(bigscreen.layout())  # grids in: the big screen itself
