"""Warm the big screen's caches when a serving worker starts (issue #8 规模).

Why: the screen's counts are cached per local day (geo/analysis/dashboard.py, geo/analysis/heat.py,
migration 0024) and survive writes, but a new worker starts empty, and at city scale its
first big screen would pay every scan at once (the year's counts, the open rows, 90 days
of heat: about 3 s). A background thread fills them right after the worker starts, for
each role that has an active account bound to the whole jurisdiction (the command
centre's wall screens).

Correct under row-level security: each scope is computed through db.scoped + db.pooled,
so the queries run as that role's database role with that unit's `quanyu.scope`, exactly
as a signed-in request of that role and unit would; the caches key every entry by
db.scope_key() = (role, unit), so a warmed entry is only ever served to the same role over
the same unit. Only serving processes warm (gunicorn workers, `python app.py`), never
tests or the CLI importing the app; QUANYU_WARM_SCREEN=0 turns it off, =1 forces it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from datetime import datetime

from geo import db
from geo.analysis import dashboard
from geo.security import access
from geo.worktime import CST

log = logging.getLogger(__name__)
WINDOW_DAYS = "90"  # the longest preset window: its days hold the 30, 7 and 1-day windows'


def serving() -> bool:
    flag = os.environ.get("QUANYU_WARM_SCREEN")
    if flag is not None:
        return flag == "1"
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "gunicorn" in sys.argv[0] or argv0 == "app.py"


def scopes(conn) -> list[access.Scope]:
    """The jurisdiction-wide scopes of active accounts that may open the big screen."""
    code = db.scalar(conn, "SELECT code FROM jurisdiction ORDER BY code LIMIT 1")
    if not code:
        return []
    roles = [
        r["role"]
        for r in db.rows(
            conn,
            """SELECT DISTINCT role FROM app_user
                                                 WHERE active AND admin_code = %s ORDER BY role""",
            (code,),
        )
    ]
    return [access.Scope("screen-warm-up", role, code) for role in roles if access.allowed(role, access.VIEW)]


def warm_scope(scope: access.Scope, now: datetime | None = None, url: str | None = None) -> None:
    """What the big screen's first load reads, computed as `scope` would read it."""
    from geo.analysis import heat
    from geo.web.api.tiles import window_bounds
    from geo.web.home import home_code

    now = now or datetime.now(CST)
    # where the screens will read: a replica's caches are its own (keyed by its address)
    with db.scoped(scope), db.pooled(url) if url else db.reading() as conn:
        home = home_code(conn)
        dashboard.kpis(conn, home, now)
        dashboard.by_category(conn, home, now=now)
        dashboard.trend(conn, home, now=now)
        dashboard.town_ranking(conn, home, now=now)
        start, end = window_bounds({"window": WINDOW_DAYS}, now)
        heat.warm(conn, start, end)


def _app_ready() -> bool:
    """The app module has finished importing (every page module is loaded)."""
    return any(getattr(sys.modules.get(name), "server", None) is not None for name in ("app", "__main__"))


def warm() -> None:
    for _ in range(300):  # import nothing while the main thread is still importing the pages
        if _app_ready():
            break
        time.sleep(0.1)
    t = time.perf_counter()
    try:
        with db.pooled() as conn:
            todo = scopes(conn)
        for scope in todo:
            warm_scope(scope)
        # printed like the app's start-up line: an operator sees that a worker is ready
        print(
            f"大屏缓存预热 screen caches warmed for {', '.join(s.role for s in todo) or 'no account'} "
            f"in {time.perf_counter() - t:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    except Exception:  # a cold cache is slower, never wrong: the worker serves on
        log.exception("screen cache warm-up failed")


if serving():
    threading.Thread(target=warm, name="screen-warm-up", daemon=True).start()
