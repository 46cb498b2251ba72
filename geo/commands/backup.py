"""`python -m geo backup FILE` and `python -m geo backup --restore FILE`."""

from __future__ import annotations

HELP = "备份/恢复数据库 (back up the database to FILE, or --restore it from FILE)"


def add_arguments(p):
    p.add_argument("file", help="backup file (PostgreSQL custom format, e.g. quanyu-2026-11-22.dump)")
    p.add_argument("--restore", action="store_true", help="replace the database with the backup (one transaction)")
    p.add_argument("--test", action="store_true", help="the test database")


def run(args) -> int:
    from geo import backup
    from geo import pgserver as cluster
    from geo.cli import CommandError

    url = cluster.database_url(test=args.test)
    try:
        if args.restore:
            backup.restore(url, args.file)
            print(f"已恢复 restored from {args.file}")
        else:
            path = backup.backup(url, args.file)
            print(f"已备份 backed up to {path} ({path.stat().st_size:,} bytes)")
    except backup.BackupError as exc:
        raise CommandError(str(exc)) from exc
    return 0
