"""The shell side of the loop: apikey and incident commands against the test database."""

from __future__ import annotations

import json

from geo.security import apikeys
from tests.support.loop import GRID_SW, IN_SW, OUTSIDE


def test_apikey_create_prints_a_working_key(shell, loop_world):
    code, out, _ = shell("apikey", "create", "--name", "小程序")
    key = out.splitlines()[0]
    assert code == 0 and apikeys.verify(loop_world, key)["name"] == "小程序"
    assert "小程序" in shell("apikey", "list")[1]
    assert shell("apikey", "revoke", "1")[0] == 0 and apikeys.verify(loop_world, key) is None
    assert shell("apikey", "create")[0] == 1


def incident_row() -> dict:
    from geo import db
    from geo import pgserver as cluster

    conn = db.connect(cluster.database_url(test=True))
    try:
        return db.one(conn, "SELECT status, assigned_to FROM incident WHERE id = 1")
    finally:
        conn.close()


def test_incident_add_move_history_overdue(shell):
    code, out, err = shell(
        "incident",
        "add",
        "--lon",
        IN_SW[0],
        "--lat",
        IN_SW[1],
        "--category",
        "0211",
        "--description",
        "打架",
        "--actor",
        "值班员",
    )
    assert code == 0, err
    assert GRID_SW in out and "派出所" in out and "138****1234" in out and "deadline" in out
    assert shell("incident", "move", "1", "registered", "--actor", "值班员")[0] == 0
    code, _, err = shell("incident", "move", "1", "closed", "--actor", "值班员")
    assert code == 1 and "registered -> closed is not allowed" in err
    hist = shell("incident", "history", "1")[1].splitlines()
    assert [line.split("\t")[1] for line in hist] == ["- -> received", "received -> registered"]
    # whom a dispatch sends it to, from the shell too, kept in its own column
    assert shell("incident", "move", "1", "dispatched", "--actor", "值班员", "--assignee", "专职 赵强")[0] == 0
    assert incident_row()["assigned_to"] == "专职 赵强"
    assert shell("incident", "history", "1")[1].splitlines()[-1].endswith("\t专职 赵强")
    code, out, _ = shell("incident", "overdue", "--json")
    assert code == 0 and isinstance(json.loads(out), list)
    code, _, err = shell("incident", "add", "--lon", OUTSIDE[0], "--lat", OUTSIDE[1], "--category", "0211")
    assert code == 1 and "outside" in err
