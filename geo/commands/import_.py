"""`python -m geo import LAYER FILE [--crs ...] [--layer NAME]`: load a file into a layer.

Nothing is written unless the whole file is valid; the coordinate system assumed (and why)
is always printed, because a wrong guess moves everything by hundreds of metres.
"""

from __future__ import annotations

import sys

LAYERS = ("boundary", "grids", "households", "incidents", "places")


def add_arguments(p):
    p.add_argument("layer", choices=LAYERS, help="目标图层 layer to load into")
    p.add_argument("file", help=".geojson/.json, .gpkg, .zip/.shp (Shapefile), .csv or .xlsx")
    p.add_argument("--crs", help="坐标系 the file's system, overriding what it says: wgs84|cgcs2000|gcj02|bd09|EPSG:n")
    p.add_argument(
        "--layer",
        dest="grid_layer",
        metavar="NAME",
        help="部门网格图层 departmental grid layer (police, urban management...); grids only",
    )
    p.add_argument("--test", action="store_true", help="the test database (quanyu_test)")


def run(args) -> int:
    from geo.io import importer

    return run_on_db(
        args,
        importer.ImportFailed,
        lambda conn: importer.import_file(
            conn,
            args.layer,
            args.file,
            crs=args.crs,
            grid_layer=args.grid_layer,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        ),
    )


def run_on_db(args, failure: type[Exception], work) -> int:
    """Run work(conn) on the (test) database and print its summary; `failure` is the
    user-fixable error, shown without a traceback (exit 1)."""
    from geo import db
    from geo.cli import CommandError

    conn = db.connect(test=args.test)
    try:
        result = work(conn)
    except failure as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    print(result.summary())
    return 0
