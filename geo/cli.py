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
