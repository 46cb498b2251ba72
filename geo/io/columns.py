"""Which column of a user's file holds which attribute of a layer (column recognition).

Why: offices name their columns in Chinese and each office a little differently (详细地址,
人口数(人), 工单编号). Each layer's attributes carry the usual headers (geo.io.fields); a
header matches after case, spaces, dashes and a trailing unit in brackets are folded, and
shapefile names cut to 10 bytes (GBK or UTF-8) still match. A header no list holds is matched by
the shape of its name (a field's `patterns`: 乡镇代码 and XZQDM are codes, 诉求地址 an address,
诉求分类 a category), and where several columns fit, by which one's values read as the field.
`--columns "受理时间=reported_at"`
(or the mapping edited on the 数据导入 page) decides over everything. The result says, for
every column of the file, what it was recognised as and why, so a user can check it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from geo.io import values

IGNORE = ("-", "ignore", "忽略")


@dataclass(frozen=True)
class Field:
    """One attribute a layer reads: its name, how a cell is parsed, the column names (English
    and the Chinese headers clerks use) it is found under, and a label for people."""

    name: str
    parse: Callable[[Any], Any] = values.text
    required: bool = False
    default: Any = None
    aliases: tuple[str, ...] = ()
    label: str = ""
    patterns: tuple[str, ...] = ()  # regexes on the folded header, tried when no alias matched


@dataclass
class Mapping:
    """Field name -> the file's column, and for every column how it was recognised."""

    fields: dict[str, str] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)  # column -> "--columns" | "name" | "header" | "pattern" | "ignored"
    missing: list[Field] = field(default_factory=list)

    def rows(self, columns, layer_fields) -> list[dict]:
        """One row per column of the file: what it is read as (for the inspection and the page)."""
        by_column = {c: f for f, c in self.fields.items()}
        labels = {f.name: f.label for f in layer_fields}
        return [
            {
                "column": str(c),
                "field": by_column.get(c),
                "label": labels.get(by_column.get(c), ""),
                "how": self.how.get(c, "unrecognised"),
            }
            for c in columns
        ]


def header_key(name: Any) -> str:
    """A header folded for matching: 'Head Name', 'head-name' -> 'head_name'; '人口数（人）' -> '人口数'."""
    text = re.sub(r"\s*[（(\[【][^)）\]】]*[)）\]】]\s*$", "", str(name).strip())
    return values.key(text)


def _cut_forms(alias: str) -> set[str]:
    """The forms a shapefile leaves of a long name: 10 bytes in GBK or in UTF-8."""
    forms = set()
    for codec in ("gb18030", "utf-8"):
        raw = alias.encode(codec, "ignore")
        if len(raw) > 10:
            forms.add(raw[:10].decode(codec, "ignore"))
    return forms


def parse_option(text: str | None) -> dict[str, str]:
    """`--columns "受理时间=reported_at,事件类型=category"` -> {column: field} (ValueError on a bad pair)."""
    out: dict[str, str] = {}
    for part in re.split(r"[,，;；\n]+", text or ""):
        if not part.strip():
            continue
        column, sep, name = part.partition("=")
        if not sep or not column.strip() or not name.strip():
            raise ValueError(f"--columns: {part.strip()!r} is not COLUMN=FIELD (e.g. 受理时间=reported_at)")
        out[column.strip()] = name.strip()
    return out


def match(
    columns: list,
    layer_fields,
    overrides: dict[str, str] | None = None,
    *,
    shapefile: bool = False,
    cells: Callable[[Any], list] | None = None,
) -> Mapping:
    """Recognise the file's columns as the layer's fields. Overrides ({column: field name,
    or '-' to ignore}) must name real columns and fields, else ValueError naming them.
    cells(column) gives a column's values: where several columns fit a field's patterns,
    the one whose values read best as the field is taken."""
    names = {f.name for f in layer_fields}
    mapping = Mapping()
    overrides = dict(overrides or {})
    by_text = {str(c): c for c in columns}
    for column, name in overrides.items():
        if column not in by_text:
            raise ValueError(
                f"--columns names column {column!r}, which the file does not have; columns: {', '.join(map(str, columns))}"
            )
        if name in IGNORE:
            mapping.how[by_text[column]] = "ignored"
            continue
        if name not in names:
            raise ValueError(f"--columns: {name!r} is not a field of this layer; fields: {', '.join(sorted(names))}")
        mapping.fields[name] = by_text[column]
        mapping.how[by_text[column]] = "--columns"
    keys = {}
    for c in columns:
        if c not in mapping.how:
            keys.setdefault(header_key(c), c)
    for f in layer_fields:
        if f.name in mapping.fields:
            continue
        found = None
        for i, alias in enumerate((f.name, *f.aliases)):
            candidates = [header_key(alias)] + ([header_key(x) for x in _cut_forms(alias)] if shapefile else [])
            for k in candidates:
                column = keys.get(k)
                if column is not None and column not in mapping.fields.values():
                    found = (column, "name" if i == 0 else "header")
                    break
            if found:
                break
        if found:
            mapping.fields[f.name] = found[0]
            mapping.how[found[0]] = found[1]
    for f in layer_fields:  # headers no list holds, by the shape of their names
        if f.name in mapping.fields or not f.patterns:
            continue
        free = [c for c in columns if c not in mapping.how and c not in mapping.fields.values()]
        fits = [c for c in free if any(re.search(p, header_key(c)) for p in f.patterns)]
        column = _best_by_values(fits, f, cells)
        if column is not None:
            mapping.fields[f.name] = column
            mapping.how[column] = "pattern"
    mapping.missing = [f for f in layer_fields if f.required and f.name not in mapping.fields]
    return mapping


def _best_by_values(fits: list, f: Field, cells) -> Any:
    """The column of `fits` whose values read best as field `f`: most of them parsed, then the
    most distinct values (a community's own code over its town's), then the longest; the first
    when the values are not at hand. None when no value of any reads (a 类型 column of other
    words is no category)."""
    if len(fits) <= 1 and cells is None:
        return fits[0] if fits else None
    best, best_score = None, None
    for c in fits:
        filled = [v for v in (cells(c) if cells else []) if v is not None]
        if cells is None:
            return c
        parsed = []
        for v in filled[:500]:
            try:
                parsed.append(f.parse(v))
            except (ValueError, TypeError):
                pass
        if filled and not parsed:
            continue
        score = (len(parsed) / max(1, min(len(filled), 500)), len(set(map(str, parsed))), sum(len(str(v)) for v in parsed))
        if best_score is None or score > best_score:
            best, best_score = c, score
    return best
