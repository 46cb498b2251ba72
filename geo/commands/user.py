"""`python -m geo user add NAME --role ROLE --unit CODE | list | passwd NAME | disable NAME | enable NAME | unlock NAME`.

The first administrator is made here (there is no sign-up page): `python -m geo user add
admin --role admin --unit 620802`. The password is read from the terminal without echo,
or from standard input with --password-stdin for scripts, never from the command line
(which other users of the machine can see in the process list).
"""

from __future__ import annotations

HELP = "管理账号 add|list|passwd|disable|enable|unlock (accounts and roles)"


def add_arguments(p):
    from geo.security.access import ROLES

    p.add_argument("action", choices=["add", "list", "passwd", "disable", "enable", "unlock"])
    p.add_argument("username", nargs="?", help="user name (letters, digits, _ . @ -)")
    p.add_argument("--role", choices=ROLES, help="role (add)")
    p.add_argument(
        "--unit", help="administrative code the account is bound to: 6-digit district, 9-digit town, 12-digit community (add)"
    )
    p.add_argument("--name", default="", help="display name, e.g. 张主任 (add)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def _password(args, confirm: bool) -> str:
    import getpass
    import sys

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("密码 password: ")
    if confirm and getpass.getpass("再输一次 again: ") != first:
        from geo.cli import CommandError

        raise CommandError("两次输入的密码不一致 (passwords differ)")
    return first


def run(args) -> int:
    from geo import db
    from geo.cli import CommandError
    from geo.security import accounts

    if args.action != "list" and not args.username:
        raise CommandError(f"user {args.action} needs a user name")
    conn = db.connect()
    try:
        if args.action == "add":
            if not (args.role and args.unit):
                raise CommandError("user add needs --role and --unit (e.g. --role admin --unit 620802)")
            accounts.create_user(conn, args.username, _password(args, True), args.role, args.unit, args.name)
            print(f"created {args.username} ({args.role}, {args.unit})")
        elif args.action == "list":
            for u in accounts.users(conn):
                state = "active" if u["active"] else "disabled"
                if accounts.throttled(u):
                    state += f", {u['recent_failures']} recent failed sign-ins (unlock forgives them)"
                last = f"{u['last_sign_in']:%Y-%m-%d %H:%M}" if u["last_sign_in"] else "never"
                print(f"{u['username']}\t{u['role']}\t{u['admin_code']}\t{u['display_name']}\t{state}\tlast sign-in {last}")
        elif args.action == "passwd":
            accounts.set_password(conn, args.username, _password(args, True))
            print(f"password changed for {args.username}; their sessions are closed")
        elif args.action in ("disable", "enable"):
            accounts.set_active(conn, args.username, args.action == "enable")
            print(f"{args.action}d {args.username}")
        else:
            accounts.set_active(conn, args.username, True)
            print(f"unlocked {args.username}")
    except accounts.AccountError as e:
        raise CommandError(str(e)) from None
    finally:
        conn.close()
    return 0
