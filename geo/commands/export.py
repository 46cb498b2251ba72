"""`python -m geo export LAYER FILE [--crs ...] [--level ...] [--layer NAME] [--all-versions] [--unmasked]`.

Prints the row count, the coordinate system and the path: a file whose system is not
stated is a file someone will overlay wrongly.
"""

from __future__ import annotations

from geo.cli import run_on_db

HELP = "导出数据：GeoJSON、GeoPackage、Shapefile、CSV、Excel (export a layer; the coordinate system is stated)"

LAYERS = ("boundary", "grids", "households", "incidents", "places")


def add_arguments(p):
    p.add_argument("layer", choices=LAYERS, help="图层 layer to export")
    p.add_argument("file", help=".geojson/.json, .gpkg, .zip/.shp (Shapefile), .csv or .xlsx")
    p.add_argument("--crs", default="wgs84", help="坐标系 output system: wgs84 (default)|cgcs2000|gcj02|bd09|EPSG:n")
    p.add_argument("--level", choices=("city", "district", "town", "community"), help="boundary only: one level")
    p.add_argument("--layer", dest="grid_layer", metavar="NAME", help="grids only: a departmental layer (default official)")
    p.add_argument("--all-versions", action="store_true", help="grids only: closed versions too (history)")
    p.add_argument("--unmasked", action="store_true", help="个人信息不脱敏 personal columns in full (default masked)")
    p.add_argument("--test", action="store_true", help="the test database (quanyu_test)")


def run(args) -> int:
    from geo.io import exporter

    return run_on_db(
        args,
        exporter.ExportFailed,
        lambda conn: exporter.export_layer(
            conn,
            args.layer,
            args.file,
            crs=args.crs,
            level=args.level,
            grid_layer=args.grid_layer,
            all_versions=args.all_versions,
            unmasked=args.unmasked,
        ),
    )
