"""Command-line entry point.

Each sub-command lives in its own module under `geo/commands/` with two functions,
`add_arguments(parser)` and `run(args) -> int`; adding a command is adding a module and a
line to COMMANDS. Modules are imported only when their command runs, so `python -m geo db
status` does not pay for geopandas.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("geo.commands.doctor", "检查/安装系统依赖 (check or install PostGIS, Chromium, CJK fonts)"),
    "db": ("geo.commands.db", "管理内置数据库 start|stop|status|url|migrate (embedded PostGIS)"),
    "demo": ("geo.commands.demo", "生成崆峒区演示数据 (build the Kongtong demo jurisdiction)"),
    "import": ("geo.commands.import_", "导入数据 (import boundary|grids|households|incidents|places)"),
    "export": ("geo.commands.export", "导出图层 (export a layer to GeoJSON/GPKG/CSV/Excel)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m geo", description="全域 Quanyu — 网格化管理与风险地图")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


class CommandError(Exception):
    """An error the user can fix; printed without a traceback."""


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
