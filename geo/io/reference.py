"""Reference data: the incident categories, their aliases and the default risk configuration.

Why: incidents cannot be imported without categories, and tiers stay empty without a risk
configuration; a fresh database must not depend on the demo (which wipes everything) for
either. `seed` loads data/categories.csv and data/risk.toml into an empty database after
the migrations (idempotent: it never overwrites what is there); `import_categories`
replaces or extends the category table, or adds aliases (`alias,minor_code`), from a CSV or
Excel file (`python -m geo import categories FILE`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from geo import db
from geo.config import DATA_DIR
from geo.io import columns, fields, readers
from geo.io.problems import ImportFailed, Problems

CATEGORIES_FILE = DATA_DIR / "categories.csv"
CATEGORY_COLUMNS = (
    "minor_code",
    "major_code",
    "major_name",
    "minor_name",
    "department",
    "time_limit",
    "time_unit",
    "severity",
    "is_dispute",
    "description",
)


def seed(conn) -> list[str]:
    """Load the shipped categories and risk configuration where the tables are empty."""
    done = []
    if not db.scalar(conn, "SELECT EXISTS (SELECT 1 FROM category)"):
        with CATEGORIES_FILE.open(encoding="utf-8") as fh:
            records = list(csv.DictReader(fh))
        names = list(records[0])
        with db.transaction(conn) as cur:
            db.copy_rows(cur, "category", names, ([r[c] for c in names] for r in records))
        done.append(f"{len(records)} incident categories from {CATEGORIES_FILE.name}")
    if not db.scalar(conn, "SELECT EXISTS (SELECT 1 FROM risk_config)"):
        from geo.risk import tiers

        tiers.load_config(conn)
        done.append(f"risk configuration from {tiers.DEFAULT_CONFIG.name}")
    return done


@dataclass
class CategoriesResult:
    path: Path
    kind: str  # "categories" or "aliases"
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        what = "incident categories" if self.kind == "categories" else "category aliases"
        lines = [
            f"导入完成 {what} from {self.path.name}: {self.inserted} new, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.removed} removed"
        ]
        if self.kept:
            lines.append(
                f"注意 note: {len(self.kept)} categor(ies) not in the file are kept, incidents use them: {', '.join(self.kept[:10])}"
            )
        return "\n".join(lines)


def import_categories(conn, path, *, mode: str = "upsert", encoding: str | None = None, columns_map=None) -> CategoriesResult:
    """A category table (all of CATEGORY_COLUMNS, Chinese headers too) upserted by minor code
    (mode replace also removes categories the file lacks and no incident uses), or an alias
    table (alias + minor_code or minor_name) added to category_alias. All or nothing."""
    path = Path(path)
    try:
        source = readers.read_source(path, encoding=encoding)
    except Exception as exc:  # noqa: BLE001 (any reader error means the same thing to the user)
        raise ImportFailed(path, [f"cannot read the file: {exc}"]) from exc
    problems = Problems(source, path, None)
    header = list(source.frame.columns)
    overrides = columns.parse_option(columns_map) if isinstance(columns_map, str) else columns_map
    try:
        as_table = columns.match(header, fields.CATEGORIES, overrides)
        as_aliases = columns.match(header, fields.ALIASES, overrides) if as_table.missing else None
    except ValueError as exc:
        raise ImportFailed(path, [str(exc)]) from None
    kind = "aliases" if as_aliases is not None and not as_aliases.missing else "categories"
    layer_fields = fields.ALIASES if kind == "aliases" else fields.CATEGORIES
    mapping = as_aliases if kind == "aliases" else as_table
    if mapping.missing:
        needed = ", ".join(f.name for f in fields.CATEGORIES)
        raise ImportFailed(
            path,
            [
                f"missing column(s) {', '.join(f.name for f in mapping.missing)}: a category table needs {needed}; "
                "an alias table needs alias and minor_code (or minor_name)"
            ],
        )
    records = []
    for i in range(len(source)):
        rec = {}
        for f in layer_fields:
            column = mapping.fields.get(f.name)
            v = source.frame[column].iloc[i] if column else None
            if v is None:
                if f.required:
                    problems.add(i, f"{column} is empty ({f.name} is required)")
                continue
            try:
                rec[f.name] = f.parse(v)
            except ValueError as exc:
                problems.add_value(i, str(column), v, str(exc), getattr(exc, "suggestion", None))
        records.append(rec)
    if kind == "aliases":
        return _aliases(conn, path, records, problems)
    problems.fail()
    result = CategoriesResult(path, kind)
    names = CATEGORY_COLUMNS + (("public",) if "public" in mapping.fields else ())
    with db.transaction(conn) as cur:
        for rec in records:
            row = [bool(rec.get(c)) if c == "public" else rec.get(c) for c in names]
            cur.execute(
                f"""INSERT INTO category AS c ({", ".join(names)}) VALUES ({", ".join(["%s"] * len(names))})
                    ON CONFLICT (minor_code) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in names[1:])}
                    WHERE ({", ".join("c." + c for c in names[1:])}) IS DISTINCT FROM ({", ".join("EXCLUDED." + c for c in names[1:])})
                    RETURNING xmax = 0""",
                row,
            )
            _tally(result, cur.fetchone())
        if mode == "replace":
            codes = [r["minor_code"] for r in records]
            cur.execute(
                """DELETE FROM category c WHERE NOT (minor_code = ANY(%s))
                     AND NOT EXISTS (SELECT 1 FROM incident i WHERE i.minor_code = c.minor_code)
                     AND NOT EXISTS (SELECT 1 FROM category_alias a WHERE a.minor_code = c.minor_code)""",
                (codes,),
            )
            result.removed = cur.rowcount
            cur.execute(
                "SELECT minor_code || ' ' || minor_name FROM category WHERE NOT (minor_code = ANY(%s)) ORDER BY 1", (codes,)
            )
            result.kept = [r[0] for r in cur.fetchall()]
        _log(cur, path, "categories", result)
    return result


def _aliases(conn, path: Path, records: list[dict], problems: Problems) -> CategoriesResult:
    known = {r["minor_code"]: r["minor_name"] for r in db.rows(conn, "SELECT minor_code, minor_name FROM category")}
    by_name = {name: code for code, name in known.items()}
    for i, rec in enumerate(records):
        code = rec.get("minor_code") or by_name.get(rec.get("minor_name"))
        if code not in known:
            problems.add(i, f"alias {rec.get('alias')!r}: no category {rec.get('minor_code') or rec.get('minor_name')!r}")
        rec["minor_code"] = code
    problems.fail()
    result = CategoriesResult(path, "aliases")
    with db.transaction(conn) as cur:
        for rec in records:
            cur.execute(
                """INSERT INTO category_alias AS a (alias, minor_code) VALUES (%s, %s)
                   ON CONFLICT (alias) DO UPDATE SET minor_code = EXCLUDED.minor_code WHERE a.minor_code <> EXCLUDED.minor_code
                   RETURNING xmax = 0""",
                (rec["alias"], rec["minor_code"]),
            )
            _tally(result, cur.fetchone())
        _log(cur, path, "category_aliases", result)
    return result


def _tally(result: CategoriesResult, returned) -> None:
    """Count one upsert by what RETURNING xmax = 0 gave: no row (unchanged), true (new), false (updated)."""
    if returned is None:
        result.unchanged += 1
    elif returned[0]:
        result.inserted += 1
    else:
        result.updated += 1


def _log(cur, path: Path, layer: str, result: CategoriesResult) -> None:
    cur.execute(
        """INSERT INTO import_batch (layer, file_name, imported_by, mode, rows_read, inserted, updated, unchanged, removed)
           VALUES (%s, %s, 'cli', 'upsert', %s, %s, %s, %s, %s)""",
        (
            layer,
            path.name,
            result.inserted + result.updated + result.unchanged,
            result.inserted,
            result.updated,
            result.unchanged,
            result.removed,
        ),
    )
