"""The rows an import skipped (--skip-invalid), written back for the user with a reason column.

Why: a 5,000-row ledger with 20 bad rows should not wait on hand edits. The valid rows are
imported; the bad ones come back in the file's own form (CSV stays CSV in its columns,
Excel stays Excel) with 原因 reason in front, to fix and import again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import shapely

REASON = "原因 reason"


def default_path(path: Path) -> Path:
    return path.with_name(path.name + (".rejected.xlsx" if path.suffix.lower() == ".xlsx" else ".rejected.csv"))


def frame(source, problems) -> pd.DataFrame:
    """The rejected rows: the row's label and reasons, then its columns as read (WKT for vector files)."""
    rows = sorted(problems.rows)
    table = source.raw if source.raw is not None else source.frame
    out = table.iloc[rows].copy() if rows else table.iloc[:0].copy()
    if source.raw is None:  # vector files: the geometry as WKT, so the row can be fixed and re-imported as CSV
        out["wkt"] = [shapely.to_wkt(source.geometry[i]) if source.geometry[i] is not None else None for i in rows]
    out.insert(0, REASON, [problems.reasons(i) for i in rows])
    out.insert(0, "行 row", [source.label(i) for i in rows])
    return out


def write(source, problems, to: str | Path | None = None) -> Path:
    path = Path(to) if to else default_path(source.path)
    data = frame(source, problems)
    if path.suffix.lower() == ".xlsx":
        data.to_excel(path, index=False)
    else:
        data.to_csv(path, index=False, encoding="utf-8-sig")  # with BOM: Excel (WPS) opens it as UTF-8
    return path
