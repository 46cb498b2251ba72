"""Accounts, roles, jurisdiction scope in the database, masking, audit (issue: 安全).

The scope tests talk to PostgreSQL as the web does (db.scoped + db.pooled: SET ROLE to the
account's role, quanyu.scope = its unit), on the tiny jurisdiction: one town, community
...001 (west) and ...002 (east), a grid, a household, a key person and an incident in each.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg2
import pytest
import shapely

from geo import db
from geo import pgserver as cluster
from geo.incidents import lifecycle
from geo.security import access, accounts, masking, personal

TOWN, WEST, EAST = "620802001", "620802001001", "620802001002"
PASSWORD = "Correct-horse-42"


def scope(role: str, unit: str, username: str | None = None) -> access.Scope:
    return access.Scope(username=username or f"{role}@{unit}", role=role, admin_code=unit)


@pytest.fixture
def url():
    return cluster.database_url(test=True)


@pytest.fixture
def world(tiny_jurisdiction, add_grids, categories, conn):
    """One grid, household, key person and incident in each community; ids by community."""
    add_grids(
        [
            (WEST + "001", "西一网格", "urban", shapely.box(106.65, 35.53, 106.66, 35.55)),
            (EAST + "001", "东一网格", "rural", shapely.box(106.66, 35.53, 106.67, 35.55)),
        ]
    )
    ids = {}
    with db.transaction(conn) as cur:
        for code, lon in ((WEST, 106.655), (EAST, 106.665)):
            point = f"SRID=4326;POINT({lon} 35.54)"
            cur.execute(
                """INSERT INTO household (address, head_name, phone, persons, grid_code, admin_code, geom)
                           VALUES ('1号', '张三丰', '13812341234', 3, %s, %s, %s) RETURNING id""",
                (code + "001", code, point),
            )
            hh = cur.fetchone()[0]
            cur.execute(
                """INSERT INTO place (kind, category, name, id_number, phone, grid_code, admin_code, geom)
                           VALUES ('key_person', 'mental_disorder', '欧阳娜娜', '620802199001011234', '13900001111', %s, %s, %s)
                           RETURNING id""",
                (code + "001", code, point),
            )
            place = cur.fetchone()[0]
            cur.execute(
                """INSERT INTO incident (title, minor_code, source, reported_at, status, reporter_name, reporter_phone,
                                                 grid_code, admin_code, geom)
                           VALUES ('邻里纠纷', '0101', 'hotline', now() - interval '1 hour', 'registered', '李四', '13700007777',
                                   %s, %s, %s) RETURNING id""",
                (code + "001", code, point),
            )
            ids[code] = {"household": hh, "place": place, "incident": cur.fetchone()[0]}
    return ids


def last_audit(conn, after_id: int) -> list[dict]:
    conn.commit()
    return db.rows(conn, "SELECT * FROM audit_log WHERE id > %s ORDER BY id", (after_id,))


def audit_mark(conn) -> int:
    conn.commit()
    return db.scalar(conn, "SELECT coalesce(max(id), 0) FROM audit_log")


# --------------------------------------------------------------------------- the policy table


def test_each_role_may_do_exactly_its_own_work():
    can = {role: sorted(p for p in access.PERMISSIONS[role]) for role in access.ROLES}
    assert can["leader"] == ["report", "view"]
    assert can["auditor"] == ["audit.view", "view"]
    assert can["planner"] == ["data.import", "plan.edit", "plan.publish", "report", "view"]
    assert can["grid_worker"] == ["incident.create", "incident.handle", "view"]
    assert access.allowed("operator", access.INCIDENT_DISPATCH) and access.allowed("operator", access.UNMASK)
    assert not access.allowed("operator", access.PLAN_EDIT)  # only planners edit grids
    assert not access.allowed("planner", access.INCIDENT_DISPATCH)  # only operators dispatch
    assert not access.allowed("grid_worker", access.INCIDENT_DISPATCH)
    assert not access.allowed("leader", access.UNMASK) and not access.allowed("auditor", access.UNMASK)
    assert access.allowed("admin", access.USER_MANAGE) and not access.allowed("operator", access.USER_MANAGE)
    assert access.transition_permission("in_progress") == access.INCIDENT_HANDLE
    assert access.transition_permission("closed") == access.INCIDENT_DISPATCH
    assert access.page_permission("/planner") == access.PLAN_EDIT
    assert access.page_permission("/import") == access.DATA_IMPORT  # 数据导入: administrators and planners
    assert {r for r in access.ROLES if access.allowed(r, access.DATA_IMPORT)} == {"admin", "planner"}
    assert access.endpoint_permission("/import/rejected/x/y.rejected.csv") == access.DATA_IMPORT
    assert access.endpoint_permission("/api/partition") == access.PLAN_EDIT
    assert access.endpoint_permission("/tiles/grid_risk/1/0/0.pbf") == access.VIEW
    assert access.callback_permissions(["pl-map", "kpis"]) == {access.PLAN_EDIT, access.VIEW}
    assert access.callback_permissions(["users-msg"]) == {access.USER_MANAGE, access.VIEW}


# --------------------------------------------------------------------------- scope in the database


def test_a_community_account_sees_only_its_community_in_every_table(world, url):
    with db.scoped(scope("leader", WEST)), db.pooled(url) as c:
        for table in ("grid", "household", "place", "incident", "incident_history", "grid_staff"):
            codes = {r["admin_code"] for r in db.rows(c, f"SELECT DISTINCT admin_code FROM {table}")}
            assert codes <= {WEST}, table
        assert db.scalar(c, "SELECT count(*) FROM incident") == 1
        assert db.scalar(c, "SELECT count(*) FROM grid_current") == 1  # views see through the caller's eyes
        # ancestors stay visible for the breadcrumb, the sibling community does not
        assert {r["code"] for r in db.rows(c, "SELECT code FROM admin_unit")} == {"620802", TOWN, WEST}
    with db.scoped(scope("leader", TOWN)), db.pooled(url) as c:
        assert db.scalar(c, "SELECT count(*) FROM incident") == 2
    with db.pooled(url) as c:  # no scope: the owner (CLI, system jobs)
        assert db.scalar(c, "SELECT count(*) FROM incident") == 2


def test_cross_jurisdiction_writes_are_refused_by_the_database(world, url):
    with db.scoped(scope("operator", WEST)), db.pooled(url) as c:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
            db.execute(
                c,
                """INSERT INTO incident (title, minor_code, source, reported_at, admin_code, geom)
                             VALUES ('x', '0101', 'ui', now(), %s, 'SRID=4326;POINT(106.665 35.54)')""",
                (EAST,),
            )
        c.rollback()
        # an UPDATE of the other community's incident finds nothing to update
        assert db.execute(c, "UPDATE incident SET title = 'changed' WHERE id = %s", (world[EAST]["incident"],)) == 0
    with db.scoped(scope("leader", WEST)), db.pooled(url) as c:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):  # a leader writes nothing
            db.execute(c, "UPDATE incident SET title = 'changed' WHERE id = %s", (world[WEST]["incident"],))


def test_only_planners_write_grids_in_the_database(world, url):
    geom = "SRID=4326;MULTIPOLYGON(((106.65 35.53,106.651 35.53,106.651 35.531,106.65 35.531,106.65 35.53)))"
    for role in ("operator", "leader", "grid_worker", "auditor"):
        with db.scoped(scope(role, WEST)), db.pooled(url) as c:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                db.execute(
                    c,
                    """INSERT INTO grid (code, name, kind, layer, admin_code, geom)
                                 VALUES (%s, 'n', 'urban', 'official', %s, %s)""",
                    (WEST + "009", WEST, geom),
                )
    with db.scoped(scope("planner", WEST)), db.pooled(url) as c:
        db.execute(
            c,
            """INSERT INTO grid (code, name, kind, layer, admin_code, geom)
                         VALUES (%s, 'n', 'urban', 'official', %s, %s)""",
            (WEST + "009", WEST, geom),
        )
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):  # not in the planner's community
            db.execute(
                c,
                """INSERT INTO grid (code, name, kind, layer, admin_code, geom)
                             VALUES (%s, 'n', 'urban', 'official', %s, %s)""",
                (EAST + "009", EAST, geom),
            )


def test_no_scope_means_no_rows(world, url):
    """A web role whose scope was never set sees nothing (fails closed)."""
    with db.pooled(url) as c:
        with c.cursor() as cur:
            cur.execute("SET ROLE quanyu_leader")
            cur.execute("SELECT count(*) FROM incident")
            assert cur.fetchone()[0] == 0
            cur.execute("RESET ROLE")


def test_every_table_a_web_role_reads_is_scoped_or_reference_data(conn):
    """A new table must either carry a policy or be listed here as the same for everyone."""
    reference = {
        "category",
        "jurisdiction",
        "setting",
        "risk_config",
        "alert_config",
        "data_version",
        "spatial_ref_sys",
        "coverage_run",
        "incident_day_version",
        "basemap_feature",  # the county's roads, water and place names: a map, not records of people
        "category_alias",  # hotline wordings of the categories
        "import_batch",  # which file was imported when and by whom: the import page's history
        "forecast_run",  # when each weekly forecast was made and how it did, county-wide (its grids are scoped)
    }
    readable = {
        r["table_name"]
        for r in db.rows(
            conn,
            """
        SELECT DISTINCT table_name FROM information_schema.role_table_grants
         WHERE grantee = 'quanyu_web' AND privilege_type = 'SELECT' AND table_schema = 'public'
        UNION SELECT DISTINCT table_name FROM information_schema.column_privileges
         WHERE grantee = 'quanyu_web' AND privilege_type = 'SELECT' AND table_schema = 'public'""",
        )
    }
    tables = {
        r["relname"]: r["relrowsecurity"]
        for r in db.rows(
            conn,
            """
        SELECT c.relname, c.relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'""",
        )
    }
    unscoped = {t for t in readable if t in tables and not tables[t]} - reference
    assert unscoped == set()
    views = {
        r["relname"]: r["reloptions"]
        for r in db.rows(
            conn,
            """
        SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'v' AND c.relname NOT IN ('geometry_columns', 'geography_columns')""",
        )
    }
    assert all("security_invoker=true" in (opts or []) for opts in views.values()), views
    secrets_readable = readable & {"app_user", "app_session", "login_attempt", "api_key", "audit_log"}
    assert secrets_readable == set()


# --------------------------------------------------------------------------- personal data


@pytest.mark.parametrize(
    "value", ["张三", "欧阳娜娜", "李", " 王五 ", "", None, "13812341234", "0933-8212345", "12345", "620802199001011234", "X"]
)
def test_sql_masking_equals_python_masking(conn, value):
    row = db.one(conn, "SELECT mask_name(%(v)s) AS n, mask_phone(%(v)s) AS p, mask_id(%(v)s) AS i", {"v": value})
    assert row == {"n": masking.mask_name(value), "p": masking.mask_phone(value), "i": masking.mask_id(value)}


def test_web_roles_read_only_masked_personal_columns(world, url):
    with db.scoped(scope("admin", "620802")), db.pooled(url) as c:
        row = db.one(c, "SELECT head_name_masked, phone_masked FROM household WHERE id = %s", (world[WEST]["household"],))
        assert row == {"head_name_masked": "张**", "phone_masked": "138****1234"}
        kp = db.one(c, "SELECT name_masked, id_number_masked FROM place WHERE id = %s", (world[WEST]["place"],))
        assert kp == {"name_masked": "欧***", "id_number_masked": "620802********1234"}
        for column, table in (
            ("head_name", "household"),
            ("phone", "household"),
            ("id_number", "place"),
            ("reporter_name", "incident"),
            ("reporter_phone", "incident"),
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                db.scalar(c, f"SELECT {column} FROM {table} LIMIT 1")
            c.rollback()


def test_unmasking_is_allowed_to_few_roles_and_always_logged(world, url, conn):
    mark = audit_mark(conn)
    with db.scoped(scope("operator", TOWN, "op1")), db.pooled(url) as c:
        full = personal.reveal(c, "household", world[WEST]["household"])
        assert full == {"head_name": "张三丰", "phone": "13812341234"}
    with db.scoped(scope("leader", TOWN, "boss")), db.pooled(url) as c:
        with pytest.raises(personal.UnmaskRefused):
            personal.reveal(c, "place", world[WEST]["place"])
    with db.scoped(scope("operator", WEST, "op2")), db.pooled(url) as c:
        with pytest.raises(personal.UnmaskRefused):  # the other community's record
            personal.reveal(c, "incident", world[EAST]["incident"])
    entries = [(e["username"], e["action"], e["target"], e["ok"]) for e in last_audit(conn, mark)]
    assert entries == [
        ("op1", "unmask", f"household:{world[WEST]['household']}", True),
        ("boss", "unmask.refused", f"place:{world[WEST]['place']}", False),
        ("op2", "unmask.refused", f"incident:{world[EAST]['incident']}", False),
    ]
    assert last_audit(conn, mark)[0]["detail"] == {"fields": ["phone", "head_name"]}


# --------------------------------------------------------------------------- accounts and sessions


@pytest.fixture
def user(world, conn):
    accounts.create_user(conn, "wang", PASSWORD, "leader", TOWN, "王镇长")
    return "wang"


def test_passwords_are_argon2_hashes_and_weak_ones_are_refused(user, conn):
    stored = db.scalar(conn, "SELECT password_hash FROM app_user WHERE username = %s", (user,))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    for weak in ("short", "aaaaaaaaaaaa", "wang-is-me-123"):
        with pytest.raises(accounts.AccountError):
            accounts.create_user(conn, "li", weak, "leader", TOWN) if weak != "wang-is-me-123" else accounts.set_password(
                conn, user, weak
            )
    with pytest.raises(accounts.AccountError, match="unknown role"):
        accounts.create_user(conn, "li", PASSWORD, "mayor", TOWN)
    with pytest.raises(accounts.AccountError, match="6、9 或 12"):
        accounts.create_user(conn, "li", PASSWORD, "leader", "6208")
    with pytest.raises(accounts.AccountError, match="不存在"):
        accounts.create_user(conn, "li", PASSWORD, "leader", "620802999")


def test_sign_in_opens_a_session_and_logs_it(user, conn):
    mark = audit_mark(conn)
    sess = accounts.sign_in(conn, user, PASSWORD, ip="10.0.0.5")
    assert sess.scope == access.Scope(username=user, role="leader", admin_code=TOWN, ip="10.0.0.5")
    assert accounts.session(conn, sess.token).scope.admin_code == TOWN
    assert db.scalar(conn, "SELECT count(*) FROM app_session WHERE token_hash = %s", (sess.token,)) == 0  # hash only
    accounts.sign_out(conn, sess.token)
    assert accounts.session(conn, sess.token) is None
    assert [(e["action"], e["username"]) for e in last_audit(conn, mark)] == [("sign_in", user), ("sign_out", user)]


def refused_reason(conn, username, password, ip):
    with pytest.raises(accounts.SignInRefused) as refused:
        accounts.sign_in(conn, username, password, ip=ip)
    assert refused.value.message == accounts.REFUSED  # one answer for every refusal
    return refused.value.reason


def test_failures_slow_the_guessing_address_without_locking_the_owner_out(user, conn):
    """Issue #18, 5: five wrong guesses used to lock `admin` for everybody for 15 minutes."""
    mark = audit_mark(conn)
    for _ in range(accounts.MAX_FAILURES_PER_USER):
        assert refused_reason(conn, user, "wrong-password", "10.0.0.6") == "password"
    assert refused_reason(conn, user, PASSWORD, "10.0.0.6") == "throttled.backoff"  # the guesser waits
    assert accounts.sign_in(conn, user, PASSWORD, ip="10.0.0.7").scope.username == user  # the owner does not
    assert refused_reason(conn, "nobody", PASSWORD, "10.0.0.8") == "unknown_user"
    failures = [e for e in last_audit(conn, mark) if e["action"] == "sign_in.failed"]
    assert [e["detail"]["reason"] for e in failures] == ["password"] * 5 + ["throttled.backoff", "unknown_user"]
    assert accounts.throttled(next(u for u in accounts.users(conn) if u["username"] == user))
    accounts.set_active(conn, user, True)  # an administrator unlocks: every earlier failure is forgiven
    assert not accounts.throttled(next(u for u in accounts.users(conn) if u["username"] == user))
    assert accounts.sign_in(conn, user, PASSWORD, ip="10.0.0.6").scope.username == user


def test_the_backoff_doubles_up_to_the_window(user, conn):
    assert accounts.backoff(accounts.MAX_FAILURES_PER_USER - 1) == timedelta(0)
    assert accounts.backoff(accounts.MAX_FAILURES_PER_USER) == accounts.BACKOFF_START
    assert accounts.backoff(accounts.MAX_FAILURES_PER_USER + 1) == 2 * accounts.BACKOFF_START
    assert accounts.backoff(10_000) == accounts.THROTTLE_WINDOW
    for _ in range(accounts.MAX_FAILURES_PER_USER):
        refused_reason(conn, user, "wrong-password", "10.0.1.1")
    # once the wait is over the address may try again (and a success clears its count)
    db.execute(conn, "UPDATE login_attempt SET at = at - %s WHERE ip = '10.0.1.1'", (accounts.BACKOFF_START,))
    conn.commit()
    assert accounts.sign_in(conn, user, PASSWORD, ip="10.0.1.1").scope.username == user
    assert refused_reason(conn, user, "wrong-password", "10.0.1.1") == "password"


def test_a_distributed_guesser_is_refused_but_the_owners_desk_is_not(user, conn):
    accounts.sign_in(conn, user, PASSWORD, ip="10.0.2.1")  # the owner's desk
    for i in range(accounts.MAX_FAILURES_PER_NAME):
        refused_reason(conn, user, "wrong-password", f"10.3.{i // 200}.{i % 200}")
    assert refused_reason(conn, user, PASSWORD, "10.4.0.1") == "throttled.name"
    assert accounts.sign_in(conn, user, PASSWORD, ip="10.0.2.1").scope.username == user


def test_one_address_is_throttled_across_accounts(user, conn):
    for i in range(accounts.MAX_FAILURES_PER_IP):
        refused_reason(conn, f"guess{i}", "x" * 12, "10.9.9.9")
    assert refused_reason(conn, user, PASSWORD, "10.9.9.9") == "throttled.ip"
    assert accounts.sign_in(conn, user, PASSWORD, ip="10.9.9.10").scope.username == user


def test_unknown_names_wrong_passwords_and_throttled_names_take_the_same_time(user, conn):
    """Before: a locked account answered in 3 ms, an unknown name in 130 ms (one Argon2 verify)."""
    import statistics
    import time

    for _ in range(accounts.MAX_FAILURES_PER_USER + 1):
        with pytest.raises(accounts.SignInRefused):
            accounts.sign_in(conn, user, "wrong-password", ip="10.5.0.1")

    def took(username, ip):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            with pytest.raises(accounts.SignInRefused):
                accounts.sign_in(conn, username, "wrong-password", ip=ip)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    throttled, unknown, wrong = took(user, "10.5.0.1"), took("nobody-at-all", "10.5.0.2"), took(user, "10.5.0.3")
    assert max(throttled, unknown, wrong) < 2.5 * min(throttled, unknown, wrong), (throttled, unknown, wrong)


def test_sessions_expire_when_idle_or_old_and_end_with_the_account(user, conn):
    sess = accounts.sign_in(conn, user, PASSWORD)
    db.execute(
        conn,
        "UPDATE app_session SET last_seen = now() - %s WHERE revoked_at IS NULL",
        (accounts.session_idle() + timedelta(minutes=1),),
    )
    conn.commit()
    assert accounts.session(conn, sess.token) is None
    sess = accounts.sign_in(conn, user, PASSWORD)
    db.execute(conn, "UPDATE app_session SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL")
    conn.commit()
    assert accounts.session(conn, sess.token) is None
    sess = accounts.sign_in(conn, user, PASSWORD)
    accounts.set_active(conn, user, False)
    assert accounts.session(conn, sess.token) is None
    with pytest.raises(accounts.SignInRefused) as refused:
        accounts.sign_in(conn, user, PASSWORD)
    assert refused.value.reason == "disabled"
    accounts.set_active(conn, user, True)
    sess = accounts.sign_in(conn, user, PASSWORD)
    accounts.set_password(conn, user, "Another-pass-77")
    assert accounts.session(conn, sess.token) is None


# --------------------------------------------------------------------------- the audit log


def test_audit_log_is_append_only_and_auditors_read_their_unit(world, url, conn):
    mark = audit_mark(conn)
    with db.scoped(scope("operator", WEST, "op-west")), db.pooled(url) as c:
        accounts.audit(c, "export", "incidents.xlsx", {"rows": 3})
    with db.scoped(scope("operator", EAST, "op-east")), db.pooled(url) as c:
        accounts.audit(c, "export", "incidents.xlsx", {"rows": 4})
    with pytest.raises(psycopg2.Error, match="append-only"):
        db.execute(conn, "UPDATE audit_log SET ok = false WHERE id > %s", (mark,))
    conn.rollback()
    with pytest.raises(psycopg2.Error, match="append-only"):
        db.execute(conn, "DELETE FROM audit_log WHERE id > %s", (mark,))
    conn.rollback()
    with pytest.raises(psycopg2.Error, match="append-only"):
        db.execute(conn, "TRUNCATE audit_log")
    conn.rollback()
    with db.scoped(scope("auditor", WEST)), db.pooled(url) as c:
        seen = [e["username"] for e in accounts.audit_entries(c) if e["id"] > mark]
        assert seen == ["op-west"]
    with db.scoped(scope("auditor", TOWN)), db.pooled(url) as c:
        assert sorted(e["username"] for e in accounts.audit_entries(c) if e["id"] > mark) == ["op-east", "op-west"]
    with db.scoped(scope("leader", TOWN)), db.pooled(url) as c:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            accounts.audit_entries(c)
    with db.scoped(scope("operator", TOWN)), db.pooled(url) as c:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):  # only through audit_write()
            db.execute(c, "INSERT INTO audit_log (action) VALUES ('forged')")


def test_incident_transitions_and_grid_edits_are_audited_in_the_database(world, url, conn):
    mark = audit_mark(conn)
    with db.scoped(scope("operator", WEST, "op-west")), db.pooled(url) as c:
        lifecycle.transition(c, world[WEST]["incident"], "dispatched", "值班员甲")
    with db.scoped(scope("planner", WEST, "planner-west")), db.pooled(url) as c:
        db.execute(c, "UPDATE grid SET name = '西一网格（新）' WHERE code = %s", (WEST + "001",))
    entries = [(e["username"], e["action"], e["target"], e["admin_code"]) for e in last_audit(conn, mark)]
    assert entries == [
        ("op-west", "incident.transition", f"incident:{world[WEST]['incident']}", WEST),
        ("planner-west", "grid.update", f"grid:{WEST}001", WEST),
    ]
    assert last_audit(conn, mark)[0]["detail"] == {"from": "registered", "to": "dispatched", "actor": "值班员甲"}


# --------------------------------------------------------------------------- exports


@pytest.mark.parametrize("suffix", [".geojson", ".xlsx", ".csv"])
def test_exports_are_logged_and_personal_ones_marked(world, conn, tmp_path, suffix):
    import json

    import openpyxl

    from geo.io import exporter

    mark = audit_mark(conn)
    masked = exporter.export_layer(conn, "households", tmp_path / f"masked{suffix}")
    full = exporter.export_layer(conn, "households", tmp_path / f"full{suffix}", unmasked=True)
    assert masked.rows == full.rows == 2
    entries = [(e["action"], e["target"], e["detail"]["unmasked"]) for e in last_audit(conn, mark)]
    assert entries == [("export", f"households:masked{suffix}", False), ("export.personal", f"households:full{suffix}", True)]
    if suffix == ".geojson":
        assert "personal_data" not in json.loads((tmp_path / "masked.geojson").read_text(encoding="utf-8"))
        data = json.loads((tmp_path / "full.geojson").read_text(encoding="utf-8"))
        assert data["personal_data"].startswith(exporter.PERSONAL_NOTICE)
        assert {f["properties"]["head_name"] for f in data["features"]} == {"张三丰"}
    elif suffix == ".xlsx":
        assert openpyxl.load_workbook(tmp_path / "full.xlsx").sheetnames[0] == "个人信息声明"
        assert "个人信息声明" not in openpyxl.load_workbook(tmp_path / "masked.xlsx").sheetnames
    else:
        assert (tmp_path / "full.csv.个人信息.txt").read_text(encoding="utf-8").startswith(exporter.PERSONAL_NOTICE)
        assert not (tmp_path / "masked.csv.个人信息.txt").exists()


@pytest.mark.parametrize(
    "code, prefix",
    [("620000", "62"), ("620800", "6208"), ("620802", "620802"), ("620802001", "620802001"), ("620802001001", "620802001001")],
)
def test_a_unit_code_scopes_by_its_prefix(conn, code, prefix):
    assert access.code_prefix(code) == prefix == db.scalar(conn, "SELECT code_prefix(%s)", (code,))


def test_a_city_account_sees_its_districts(world, url):
    with db.scoped(scope("leader", "620800")), db.pooled(url) as c:
        assert db.scalar(c, "SELECT count(*) FROM incident") == 2
    with db.scoped(scope("leader", "620900")), db.pooled(url) as c:  # another city
        assert db.scalar(c, "SELECT count(*) FROM incident") == 0


def test_grid_workers_handle_cases_and_operators_dispatch_them(world, url, conn, monkeypatch):
    import app  # noqa: F401  (pages register with the Dash app)
    from geo.web.pages import intake as intake_page

    monkeypatch.setenv("DATABASE_URL", url)  # the page's pool
    case = world[WEST]["incident"]  # registered
    with db.scoped(scope("grid_worker", WEST, "gw")):
        refused = intake_page.apply_move(case, "dispatched")
        assert refused and refused.startswith("无权访问")
    with db.scoped(scope("operator", TOWN, "op")):
        assert intake_page.apply_move(case, "dispatched", assignee="专职 赵强") is None  # its own column, granted
    with db.scoped(scope("grid_worker", WEST, "gw")):
        assert intake_page.apply_move(case, "in_progress") is None
        assert intake_page.apply_move(case, "verified").startswith("无权访问")  # the centre checks the work
    with db.scoped(scope("grid_worker", EAST, "gw-east")):  # not their community: the row does not exist for them
        assert "不存在" in intake_page.apply_move(world[WEST]["incident"], "returned")
    conn.commit()
    assert db.one(conn, "SELECT status, assigned_to FROM incident WHERE id = %s", (case,)) == dict(
        status="in_progress", assigned_to="专职 赵强"
    )


def test_a_planner_publishes_a_plan_of_their_community_only(world, url, conn):
    from geo.planning import drafts as planning
    from geo.planning import publish as planning_publish

    with db.scoped(scope("planner", WEST, "pl-west")), db.pooled(url) as c:
        plan = planning.create(c, WEST, created_by="pl-west")
        result = planning.reshape(c, plan, WEST + "001", shapely.box(106.65, 35.53, 106.6599, 35.55), force=True)
        assert result.applied
        published = planning_publish.publish(c, plan, by="pl-west", refresh_coverage=True)
        assert published["inserted"] == 1
        with pytest.raises(planning.PlanError, match="not a community"):  # the neighbour does not exist for them
            planning.create(c, EAST, created_by="pl-west")
    conn.commit()
    assert db.scalar(conn, "SELECT count(*) FROM grid WHERE code = %s", (WEST + "001",)) == 2  # history kept
    assert db.scalar(conn, "SELECT count(*) FROM coverage_run") == 1  # refreshed as the owner, whole jurisdiction
    assert db.scalar(conn, "SELECT edited_by FROM grid WHERE code = %s AND valid_to IS NULL", (WEST + "001",)) == "pl-west"


def test_results_cached_for_one_account_are_not_served_to_another(world, url):
    import app  # noqa: F401  (pages register with the Dash app)
    from geo.analysis import hotspots
    from geo.web.pages import drill as drill_page

    def incidents_seen(conn):
        return db.scalar(conn, "SELECT count(*) FROM incident")

    seen = []
    for s in (scope("admin", "620802"), scope("leader", WEST), scope("admin", "620802")):
        with db.scoped(s), db.pooled(url) as c:
            seen.append(drill_page.jurisdiction_wide(c, incidents_seen))
            seen.append(len(hotspots.grid_weights(c).codes))
    assert seen == [2, 2, 1, 1, 2, 2]


def test_a_planner_reads_and_writes_the_plan_rows_of_their_unit_only(world, url, conn):
    """plan_grid and plan_edit are scoped by the admin_code they carry (0100), their plan's
    (0075, 0097: a trigger fills it from the plan, read as the writer): a planner of the west
    community neither sees nor changes the east plan's grids and edits, cannot add rows to
    it (whatever admin_code the row names), nor move their own rows into it."""
    from geo.planning import drafts as planning

    plans = {unit: planning.create(conn, unit, created_by="owner") for unit in (WEST, EAST)}
    for unit, plan in plans.items():
        db.execute(conn, "INSERT INTO plan_edit (plan_id, seq, op, before, after) VALUES (%s, 1, 'draw', '{}', '{}')", (plan,))
    conn.commit()
    west, east = plans[WEST], plans[EAST]
    seen = "SELECT plan_id, admin_code FROM {} ORDER BY plan_id"
    with db.scoped(scope("planner", WEST, "pl-west")), db.pooled(url) as c:
        for table, text in (("plan_grid", "name"), ("plan_edit", "note")):
            assert [tuple(r.values()) for r in db.rows(c, seen.format(table))] == [(west, WEST)], table
            assert db.execute(c, f"UPDATE {table} SET {text} = 'x' WHERE plan_id = %s", (east,)) == 0, table
            assert db.execute(c, f"DELETE FROM {table} WHERE plan_id = %s", (east,)) == 0, table
            # their own rows cannot be moved into the east plan, nor relabelled as the east's
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
                db.execute(c, f"UPDATE {table} SET plan_id = %s WHERE plan_id = %s", (east, west))
            c.rollback()
            assert db.execute(c, f"UPDATE {table} SET admin_code = %s WHERE plan_id = %s", (EAST, west)) == 1
            assert db.scalar(c, f"SELECT admin_code FROM {table} WHERE plan_id = %s", (west,)) == WEST  # the plan's
        for plan_id, admin_code in ((east, WEST), (east, EAST)):  # a row naming the east plan, either unit
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
                db.execute(
                    c,
                    """INSERT INTO plan_grid (plan_id, code, name, kind, action, admin_code)
                       VALUES (%s, %s, 'n', 'urban', 'removed', %s)""",
                    (plan_id, EAST + "009", admin_code),
                )
            c.rollback()
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
                db.execute(
                    c,
                    "INSERT INTO plan_edit (plan_id, seq, op, before, after, admin_code) VALUES (%s, 9, 'draw', '{}', '{}', %s)",
                    (plan_id, admin_code),
                )
            c.rollback()
        # their own plan they edit as before: the edit rewrites plan_grid and stacks on plan_edit
        assert planning.reshape(c, west, WEST + "001", shapely.box(106.65, 35.53, 106.6599, 35.55), force=True).applied
        assert planning.undo(c, west) and planning.redo(c, west)
        assert planning.grids(c, west)[WEST + "001"]["action"] == "changed"
        assert [e["seq"] for e in planning.history(c, west)["edits"]] == [1, 2]
    with db.scoped(scope("planner", TOWN, "pl-town")), db.pooled(url) as c:  # the town sees both
        assert {r["plan_id"] for r in db.rows(c, "SELECT plan_id FROM plan_grid")} == {west, east}
        assert {r["plan_id"] for r in db.rows(c, "SELECT plan_id FROM plan_edit")} == {west, east}
    conn.commit()
    east_rows = """SELECT (SELECT count(*) FROM plan_grid WHERE plan_id = %(p)s AND admin_code = %(u)s
                                   AND action = 'keep' AND geom IS NOT NULL AND name <> 'x') AS grids,
                          (SELECT count(*) FROM plan_edit WHERE plan_id = %(p)s AND admin_code = %(u)s AND note IS NULL) AS edits,
                          (SELECT count(*) FROM plan_grid WHERE plan_id = %(p)s)
                          + (SELECT count(*) FROM plan_edit WHERE plan_id = %(p)s) AS all_rows"""
    assert tuple(db.one(conn, east_rows, dict(p=east, u=EAST)).values()) == (1, 1, 2)  # untouched
