"""The layout keeps its one-way flow, checked by reading every module's imports (ast):

    PostGIS -> geo (domain: io, analysis, risk, coverage, planning, incidents, security, ...)
            -> layers -> geo.web (api, pages) -> browser

- a geo domain module (anything in geo/ but geo/web, geo/commands, geo/cli.py,
  geo/__main__.py, geo/bench and geo/demo) imports none of geo.web, geo.commands, geo.cli,
  geo.bench, geo.demo or layers;
- nothing but geo.cli imports geo.commands (commands share helpers through geo.cli);
- layers never import geo.web;
- no page imports another page (what pages share is geo/web/ui.py);
- no file-name prefix stands in for a package (two modules of one folder named `prefix_...`);
- one cache (geo/cache.py) and one label dictionary (geo/labels.py): no other module keeps
  an LRU of its own or adds labels when it is imported.
Imports inside functions count too: a late import is still a dependency.
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE_DOMAIN = ("geo.web", "geo.commands", "geo.cli", "geo.__main__", "geo.bench", "geo.demo")
ABOVE_DOMAIN = ("geo.web", "geo.commands", "geo.cli", "geo.bench", "geo.demo", "layers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    found = {module_name(p): p for folder in ("geo", "layers") for p in (ROOT / folder).rglob("*.py")}
    found["app"] = ROOT / "app.py"
    return found


MODULES = sources()


def imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports, anywhere in it; `from geo import db` is geo.db."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return found


IMPORTS = {name: imports(name, path) for name, path in MODULES.items()}


def within(module: str, packages) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def violations(importers, forbidden) -> list[str]:
    return sorted(f"{m} imports {i}" for m in importers for i in IMPORTS[m] if within(i, forbidden))


def test_the_domain_imports_nothing_above_it():
    domain = [m for m in MODULES if within(m, ("geo",)) and not within(m, OUTSIDE_DOMAIN)]
    assert len(domain) > 50  # the check reads the real tree
    assert violations(domain, ABOVE_DOMAIN) == []


def test_only_the_cli_imports_commands():
    importers = [m for m in MODULES if m != "geo.cli" and not within(m, ("geo.commands",))]
    assert violations(importers, ("geo.commands",)) == []
    commands = [m for m in MODULES if within(m, ("geo.commands",))]
    assert [f"{m} imports {i}" for m in commands for i in IMPORTS[m] if within(i, ("geo.commands",)) and i != m] == []


def test_layers_never_import_the_web():
    assert violations([m for m in MODULES if within(m, ("layers",))], ("geo.web", "geo.commands", "geo.cli", "app")) == []


def test_no_page_imports_another_page():
    pages = [m for m in MODULES if m.startswith("geo.web.pages.")]
    assert pages
    assert sorted(f"{m} imports {i}" for m in pages for i in IMPORTS[m] if i.startswith("geo.web.pages.") and i != m) == []


def test_no_file_name_prefix_stands_in_for_a_package():
    by_folder = collections.defaultdict(list)
    for path in MODULES.values():
        if path.stem != "__init__" and "_" in path.stem.strip("_"):
            by_folder[(path.parent, path.stem.strip("_").split("_")[0])].append(path.name)
    shared = {f"{folder.relative_to(ROOT)}/{prefix}_*": names for (folder, prefix), names in by_folder.items() if len(names) > 1}
    assert shared == {}, "make a package of each: " + repr(shared)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_one_cache_and_one_label_dictionary(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    text = ast.unparse(tree)
    if name != "geo.cache":
        assert "OrderedDict" not in text and "move_to_end" not in text, f"{name}: use geo.cache.LRU, the one cache"
    if name != "geo.labels":
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("ZH_CN.update"):
                pytest.fail(f"{name}: labels belong in geo/labels.py, not added on import")
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                assert not any("ZH_CN[" in ast.unparse(t) for t in targets), f"{name}: labels belong in geo/labels.py"


def test_one_dash_app_per_process():
    """app.py makes the one Dash app. A second `dash.Dash(...)` (in a fixture, say) becomes
    dash.get_app() for everything after it, and the callback guard then finds none of the
    pages' callbacks: every later test of a callback answers 400 in an order-dependent way."""
    makers = []
    for path in [*ROOT.glob("tests/**/*.py"), *ROOT.glob("geo/**/*.py"), *ROOT.glob("layers/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Dash":
                makers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert makers == [], makers
