"""Sign-in accounts for the demo: one per role, so a visitor can see what each may do.

`python -m geo demo` makes them once, with random passwords written to
var/demo-accounts.txt (readable by the owner only) and printed; later runs print the
file again. A real deployment makes its accounts with `python -m geo user add`; this
module refuses to run on a jurisdiction that is not the synthetic demo.
"""

from __future__ import annotations

import os
import secrets

from geo import db
from geo import pgserver as cluster
from geo.security import accounts

ACCOUNTS_FILE = cluster.REPO_ROOT / "var" / "demo-accounts.txt"


def _accounts(conn) -> list[tuple[str, str, str, str]]:
    """(username, role, unit, display name); the town leader gets the busiest town."""
    district = db.scalar(conn, "SELECT code FROM jurisdiction LIMIT 1")
    town = db.one(
        conn,
        """SELECT u.code, u.name FROM admin_unit u
                            WHERE u.level = 'town' ORDER BY (SELECT count(*) FROM incident i
                                                               WHERE i.admin_code LIKE u.code || '%%') DESC, u.code LIMIT 1""",
    )
    community = db.one(
        conn,
        """SELECT code, name FROM admin_unit WHERE level = 'community' AND code LIKE %s
                                 ORDER BY code LIMIT 1""",
        (town["code"] + "%",),
    )
    return [
        ("admin", "admin", district, "系统管理员"),
        ("operator", "operator", district, "指挥中心值班员"),
        ("planner", "planner", district, "网格规划员"),
        ("leader", "leader", district, "区领导"),
        ("town-leader", "leader", town["code"], f"{town['name']}领导"),
        ("grid-worker", "grid_worker", community["code"], f"{community['name']}网格员"),
        ("auditor", "auditor", district, "审计员"),
    ]


def ensure(conn) -> str:
    """Make the missing demo accounts and return the text of var/demo-accounts.txt."""
    if not db.scalar(conn, "SELECT 1 FROM setting WHERE key = 'demo'"):
        raise RuntimeError("not the demo jurisdiction: make accounts with `python -m geo user add`")
    known = {}
    if ACCOUNTS_FILE.exists():
        for line in ACCOUNTS_FILE.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and not line.startswith("#"):
                known[parts[0]] = parts[1]
    lines = ["# 演示账号 demo accounts (synthetic data only): user name, password, role, unit, name"]
    for username, role, unit, name in _accounts(conn):
        exists = db.scalar(conn, "SELECT 1 FROM app_user WHERE username = %s", (username,))
        password = known.get(username)
        if not exists:
            password = password or secrets.token_urlsafe(9)
            accounts.create_user(conn, username, password, role, unit, name, actor="demo")
        elif not password:  # the file was lost: a demo account gets a new password
            password = secrets.token_urlsafe(9)
            accounts.set_password(conn, username, password, actor="demo")
        lines.append(f"{username}\t{password}\t{role}\t{unit}\t{name}")
    ACCOUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    ACCOUNTS_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(ACCOUNTS_FILE, 0o600)
    return "\n".join(lines)
