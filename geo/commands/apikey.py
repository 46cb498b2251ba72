"""`python -m geo apikey create --name NAME [--scope S] | list | revoke ID`: keys of Open311 clients."""

from __future__ import annotations

HELP = "管理开放接口密钥 create|list|revoke (Open311 API keys)"


def add_arguments(p):
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("id", nargs="?", type=int, help="key id (revoke)")
    p.add_argument("--name", help="the client the key is for, e.g. 12345热线 (create)")
    p.add_argument(
        "--scope",
        action="append",
        default=[],
        choices=["read:restricted", "read:precise"],
        help="read more than the anonymous view: unpublished categories, exact places (create; repeatable)",
    )


def run(args) -> int:
    from geo import db
    from geo.cli import CommandError
    from geo.security import apikeys

    conn = db.connect()
    try:
        if args.action == "create":
            if not args.name:
                raise CommandError("apikey create needs --name NAME (the client the key is for)")
            key = apikeys.create(conn, args.name, args.scope)
            print(key)
            print("请妥善保存：密钥只显示这一次 (store it now: the key is shown only once)", flush=True)
        elif args.action == "list":
            for k in apikeys.list_keys(conn):
                state = f"revoked {k['revoked_at']:%Y-%m-%d}" if k["revoked_at"] else "active"
                print(f"{k['id']}\t{k['name']}\t{k['created_at']:%Y-%m-%d %H:%M}\t{state}\t{','.join(k['scopes']) or '-'}")
        else:
            if args.id is None:
                raise CommandError("apikey revoke needs the key's id (see apikey list)")
            if not apikeys.revoke(conn, args.id):
                raise CommandError(f"no active key with id {args.id}")
            print(f"revoked key {args.id}")
    finally:
        conn.close()
    return 0
