"""Look at a file before importing it: what the importer would read, and what it would do.

Why: county staff are not command-line users. The 数据导入 page shows the detected layer(s),
encoding, coordinate system and column mapping (editable, then passed back as `columns`),
a map preview of the geometries in WGS84, the problems per distinct value and per row,
and the counts an import would give (new, updated, unchanged, rejected). All of it comes
from the importer itself run as a dry run (its transaction rolled back), so the preview
cannot disagree with the import.

Usage (the page, or a script):
    report = inspect_file(conn, "incidents", path, columns={"受理时间": "reported_at"})
    result = import_file(conn, "incidents", path, columns=report["mapping"], mode="upsert",
                         skip_invalid=True, user=name, progress=lambda msg, fraction: ...)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely

from geo.io import importer
from geo.io.problems import ImportFailed

SAMPLE_FEATURES = 300  # geometries in the map preview


def inspect_file(conn, layer: str, path, *, sample: int = SAMPLE_FEATURES, **options) -> dict:
    """Everything the page shows about `path` for `layer`, nothing written. JSON-ready.

    options: those of import_file (crs, encoding, source_layer, columns, grid_layer, mode,
    jurisdiction); skip_invalid and dry_run are set here.

    Keys: ok (importable as is, or with skip_invalid when only rows are wrong), layer, file,
    format, layers (all in the file), read_layers, encoding {name, reason}, crs {key, label,
    reason, line}, mapping {column: field} (pass it back as `columns`), columns (one row
    per column: field, label, how recognised), fields (the layer's fields: name, label,
    required), rows, sample (GeoJSON FeatureCollection, WGS84), problems {file, values,
    rows, rows_with_problems}, counts {inserted, updated, unchanged, removed, rejected},
    notes, warnings."""
    path = Path(path)
    report: dict = {"ok": False, "layer": layer, "file": path.name, "counts": None}
    try:
        result = importer.import_file(conn, layer, path, **{**options, "skip_invalid": True, "dry_run": True})
    except ImportFailed as exc:
        prep = getattr(exc, "prepared", None)
        _describe(report, prep, sample)
        report["problems"] = {"file": exc.problems, "values": [], "rows": [], "rows_with_problems": 0}
        return report
    prep = result.prepared
    _describe(report, prep, sample)
    report["problems"] = result.problems.as_dict()
    report["counts"] = {k: result.counts.get(k, 0) for k in ("inserted", "updated", "unchanged", "removed")} | {
        "rejected": result.rejected
    }
    report["notes"] = list(result.notes)
    report["ok"] = not result.problems.file
    return report


def _describe(report: dict, prep, sample: int) -> None:
    report.update(
        {
            "format": None,
            "layers": [],
            "read_layers": [],
            "encoding": None,
            "crs": None,
            "mapping": {},
            "columns": [],
            "fields": [],
            "rows": 0,
            "sample": {"type": "FeatureCollection", "features": []},
            "notes": [],
            "warnings": [],
        }
    )
    if prep is None or prep.source is None:
        return
    source = prep.source
    report.update(
        format=source.format,
        layers=source.layers,
        read_layers=source.read_layers,
        rows=len(source),
        notes=list(prep.notes),
        warnings=list(prep.warnings),
        fields=[{"name": f.name, "label": f.label, "required": f.required} for f in prep.layer_fields],
    )
    if source.encoding is not None:
        report["encoding"] = {"name": source.encoding.label, "reason": source.encoding.reason}
    if prep.crs is not None:
        report["crs"] = {"key": prep.crs.key, "label": prep.crs.label, "reason": prep.crs_reason, "line": prep.crs_line}
    if prep.mapping is not None:
        report["mapping"] = {str(column): name for name, column in prep.mapping.fields.items()}
        report["columns"] = prep.mapping.rows(list(source.frame.columns), prep.layer_fields)
    if prep.geoms is not None:
        report["sample"] = _sample(prep, sample)


def _sample(prep, limit: int) -> dict:
    """The first `limit` geometries (converted to WGS84), each with its row label."""
    idx = [i for i, g in enumerate(prep.geoms) if g is not None][:limit]
    geoms = np.asarray(prep.geoms, dtype=object)[idx] if idx else np.empty(0, dtype=object)
    texts = shapely.to_geojson(shapely.set_precision(geoms, 1e-7)) if len(idx) else []
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": json.loads(t), "properties": {"row": i + 1, "label": prep.source.label(i)}}
            for i, t in zip(idx, texts)
        ],
    }
