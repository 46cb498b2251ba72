"""The command line as a user meets it: `python -m geo --help` lists every command with a
one-line description, and commands do their work through the domain packages."""

from __future__ import annotations

import re

from geo import cli, db
from tests.support.loop import GRID_SW, IN_SW


def subcommands() -> dict[str, str]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return {choice.dest: choice.help for choice in action._choices_actions}


def test_help_lists_every_command_with_one_line():
    helps = subcommands()
    assert set(helps) == set(cli.available())
    for name, text in helps.items():
        assert text and "\n" not in text and "`" not in text, (name, text)
        assert re.search(r"[\u4e00-\u9fff]", text) and re.search(r"\([A-Za-z]", text), (name, text)  # 中文 (English)
        assert not re.search(r"issue|#\d", text, re.I), (name, text)  # no internal tracker numbers


def test_import_and_export_say_what_they_do_in_the_list():
    helps = subcommands()
    assert helps["import"].startswith("导入数据") and "import" in helps["import"]
    assert helps["export"].startswith("导出数据") and "export" in helps["export"]


def test_simulate_reports_routed_synthetic_incidents(shell, loop_world):
    with db.transaction(loop_world) as cur:
        cur.execute(
            "INSERT INTO household (address, admin_code, geom) VALUES ('新民路9号', '620802001001', ST_SetSRID(ST_Point(%s, %s), 4326))",
            IN_SW,
        )
    code, out, _ = shell("simulate", "--count", 3, "--every", 0, "--seed", 7)
    assert code == 0 and len(out.splitlines()) == 3 and all("@ 新民路9号" in line for line in out.splitlines())
    rows = db.rows(loop_world, "SELECT grid_code, synthetic, deadline, risk_tier FROM incident ORDER BY id")
    loop_world.commit()
    assert len(rows) == 3 and all(r["synthetic"] and r["deadline"] for r in rows)
    assert {r["grid_code"] for r in rows} == {GRID_SW}  # within ~20 m of the door, routed like any report


def test_simulate_on_an_empty_database_says_what_to_do(shell, loop_world):
    code, out, err = shell("simulate", "--count", 1)
    assert code == 1 and out == ""
    assert "no households" in err and "python -m geo demo" in err
