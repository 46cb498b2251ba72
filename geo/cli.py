"""Command-line entry point: `python -m geo COMMAND ...`.

Each sub-command is one module in `geo/commands/` with `add_arguments(parser)` and
`run(args) -> int` (and `HELP`, else its docstring's first line is the help); the command's name is the module's (a trailing underscore dropped, so
`import_.py` is `import`). Adding a command is adding a module. Modules load only to build
the parser and when their command runs; heavy imports belong inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from geo import commands


class CommandError(Exception):
    """An error the user can fix; printed without a traceback."""


# --------------------------------------------------------------------------- shared by commands
# (a command module imports geo.cli, never another command module)


def display_width(text: str) -> int:
    """Terminal columns of `text`: a Chinese character takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def text_table(rows: list[tuple[str, ...]]) -> str:
    """Rows of (label, value...): labels padded to one column, values right-aligned."""
    width = max(display_width(r[0]) for r in rows)
    return "\n".join(
        "  " + r[0] + " " * (width - display_width(r[0])) + "".join(" " * max(16 - display_width(v), 2) + v for v in r[1:])
        for r in rows
    )


def run_on_db(args, failure: type[Exception], work) -> int:
    """Run work(conn) on the (test) database and print its summary; `failure` is the
    user-fixable error, shown without a traceback (exit 1)."""
    from geo import db

    conn = db.connect(test=args.test)
    try:
        result = work(conn)
    except failure as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    print(result.summary())
    return 0


def available() -> dict[str, str]:
    """Command name -> module name, for every module in geo/commands."""
    return {m.name.rstrip("_"): f"geo.commands.{m.name}" for m in pkgutil.iter_modules(commands.__path__)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m geo", description="全域 Quanyu — 网格化管理与风险地图")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in sorted(available().items()):
        module = importlib.import_module(module_name)
        help_text = getattr(module, "HELP", None) or (module.__doc__ or name).strip().splitlines()[0]
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        module.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    try:
        return importlib.import_module(args._module).run(args) or 0
    except CommandError as exc:
        print(f"错误 error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; nothing half written (each step is one transaction)", file=sys.stderr)
        return 130
