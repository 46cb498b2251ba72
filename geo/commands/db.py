"""`python -m geo db start|stop|status|url|migrate`."""

from __future__ import annotations

import json

HELP = "管理内置数据库 start|stop|status|url|migrate (embedded PostGIS)"


def add_arguments(p):
    p.add_argument("action", choices=["start", "stop", "status", "url", "migrate"])
    p.add_argument("--test", action="store_true", help="the test database (quanyu_test)")


def run(args) -> int:
    from geo import db
    from geo import pgserver as cluster

    if args.action == "start":
        cluster.start()
        conn = db.connect(test=args.test)
        conn.close()
        print(f"running: {_safe(cluster.database_url(test=args.test))}")
    elif args.action == "stop":
        cluster.stop()
        print("stopped")
    elif args.action == "status":
        print(json.dumps(cluster.status(), ensure_ascii=False, indent=2, default=str))
    elif args.action == "url":
        print(cluster.database_url(test=args.test))
    elif args.action == "migrate":
        conn = db.connect(test=args.test)
        from geo.io import reference

        applied = db.migrate(conn)
        seeded = reference.seed(conn)  # idempotent: only what is missing
        conn.close()
        print("applied: " + (", ".join(applied) or "nothing, schema is current"))
        if seeded:
            print("loaded: " + "; ".join(seeded))
    return 0


def _safe(url: str) -> str:
    """The URL with its password hidden, for printing."""
    import re

    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
