"""`python -m geo db start|stop|status|url|migrate`, and `python -m geo db replica start|stop|status|url`
(a hot standby of the embedded cluster on this machine: geo/replica.py)."""

from __future__ import annotations

import json

HELP = "管理内置数据库 start|stop|status|url|migrate; replica start|stop|status|url (embedded PostGIS, hot standby)"
REPLICA_ACTIONS = ("start", "stop", "status", "url")


def add_arguments(p):
    p.add_argument("action", choices=["start", "stop", "status", "url", "migrate", "replica"])
    p.add_argument("replica_action", nargs="?", choices=REPLICA_ACTIONS, help="with `replica`: what to do with the standby")
    p.add_argument("--port", type=int, help="replica: its port (default $QUANYU_REPLICA_PORT or the primary's + 1)")
    p.add_argument("--dir", help="replica: its directory (default var/replica)")
    p.add_argument("--test", action="store_true", help="the test database (quanyu_test)")


def run(args) -> int:
    from geo import db
    from geo import pgserver as cluster

    if args.action == "replica":
        return _replica(args)
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


def _replica(args) -> int:
    from geo import pgserver as cluster
    from geo import replica
    from geo.cli import CommandError

    action = args.replica_action or "status"
    try:
        if action == "start":
            url = replica.start(port=args.port, base=args.dir)
            print(f"replica running: {_safe(url)}")
            print(f"use it: export QUANYU_REPLICA_URLS={_safe(url)}  (python -m geo db replica url prints it whole)")
        elif action == "stop":
            print("stopped" if replica.stop(base=args.dir) else "not running")
        elif action == "status":
            print(json.dumps(replica.status(base=args.dir), ensure_ascii=False, indent=2, default=str))
        else:
            print(replica.url(base=args.dir))
    except cluster.ClusterError as exc:  # ReplicaError is one
        raise CommandError(str(exc)) from None
    return 0


def _safe(url: str) -> str:
    """The URL with its password hidden, for printing."""
    import re

    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
