"""A plan leaves the workbench as GeoJSON, GeoPackage or Excel, with its coverage report.

Reviewers (the town, the 综治中心, departments) read a plan outside the product: the grids
with their household counts and the check that came with them (score, gaps, overlaps,
crossings) travel together in one file. GeoJSON carries the report as a top-level member;
GeoPackage as a second layer of defect polygons plus a summary table; Excel as sheets
with geometry as WKT (WGS84, EPSG:4326, said in every file).
"""

from __future__ import annotations

import json
from pathlib import Path

import shapely

from geo.io.cells import safe_row
from geo.io.exporter import WKT_DECIMALS, ExportFailed
from geo.planning import drafts as planning

FORMATS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".xlsx": "xlsx"}
GRID_COLUMNS = ("code", "name", "kind", "action", "households", "persons", "standard", "deviation", "off", "over_persons")


def export_plan(conn, plan_id: int, path) -> Path:
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ExportFailed(f"unknown format {path.suffix!r}: use one of {', '.join(sorted(FORMATS))}")
    plan = planning.get(conn, plan_id)
    grids = planning.grids(conn, plan_id)
    check = planning.evaluate(conn, plan_id)
    loads = {r["code"]: r for r in check.loads}
    rows = [
        dict(
            {k: loads[c].get(k) for k in GRID_COLUMNS if k in loads[c]},
            code=c,
            name=g["name"],
            kind=g["kind"],
            action=g["action"],
        )
        for c, g in sorted(grids.items())
    ]
    geoms = [grids[r["code"]]["geom"] for r in rows]
    defects = [d.to_dict() for d in check.defects]
    summary = dict(
        plan_id=plan_id,
        plan=plan["name"],
        admin_code=plan["admin_code"],
        status=plan["status"],
        score=check.score,
        gap_m2=round(check.gap_m2, 1),
        overlap_m2=round(check.overlap_m2, 1),
        outside_households=check.outside_households,
        coord_system="WGS84 (EPSG:4326)",
        **check.summary,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "geojson":
        features = [dict(type="Feature", properties=r, geometry=shapely.geometry.mapping(g)) for r, g in zip(rows, geoms)]
        path.write_text(
            json.dumps(
                dict(
                    type="FeatureCollection", name=f"plan_{plan_id}", coverage=dict(summary, defects=defects), features=features
                ),
                ensure_ascii=False,
                default=str,
            ),
            encoding="utf-8",
        )
    elif fmt == "gpkg":
        _gpkg(path, rows, geoms, check, summary)
    else:
        _xlsx(path, rows, geoms, check, summary)
    return path


def _gpkg(path: Path, rows, geoms, check, summary) -> None:
    import geopandas
    import pandas as pd
    import pyogrio

    path.unlink(missing_ok=True)
    grids = geopandas.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs="EPSG:4326")
    pyogrio.write_dataframe(grids, path, layer="plan_grids", driver="GPKG", geometry_type="MultiPolygon")
    if check.defects:
        frame = pd.DataFrame([dict(d.to_dict(), grid_codes=",".join(d.grid_codes)) for d in check.defects])
        defects = geopandas.GeoDataFrame(
            frame, geometry=[shapely.MultiPolygon(shapely.get_parts(d.geom).tolist()) for d in check.defects], crs="EPSG:4326"
        )
        pyogrio.write_dataframe(defects, path, layer="coverage_defects", driver="GPKG", geometry_type="MultiPolygon")
    pyogrio.write_dataframe(pd.DataFrame([{k: str(v) for k, v in summary.items()}]), path, layer="coverage_report", driver="GPKG")


def _xlsx(path: Path, rows, geoms, check, summary) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("网格")
    sheet.append(list(GRID_COLUMNS) + ["wkt"])
    for r, g in zip(rows, geoms):
        wkt = shapely.to_wkt(g, rounding_precision=WKT_DECIMALS, trim=True)
        sheet.append(
            safe_row([r.get(k) for k in GRID_COLUMNS] + [wkt if len(wkt) <= 32_767 else "(too long for a cell: see the .gpkg)"])
        )
    sheet = book.create_sheet("问题")
    sheet.append(["kind", "grid_codes", "area_m2", "width_m", "lon", "lat"])
    for d in check.defects:
        sheet.append(safe_row([d.kind, ",".join(d.grid_codes), round(d.area_m2, 1), d.width_m, d.lon, d.lat]))
    sheet = book.create_sheet("汇总")
    for k, v in summary.items():
        sheet.append(safe_row([k, v if isinstance(v, (int, float, str)) or v is None else str(v)]))
    book.save(path)
