"""`python -m geo import LAYER FILE [options]`, `import history`, `import undo BATCH`: load files as batches.

Nothing is written unless the whole file is valid (or, with --skip-invalid, the valid rows
are written and the others returned in FILE.rejected.csv); the coordinate system and the
text encoding assumed (and why) are always printed, because a wrong guess moves everything
by hundreds of metres or turns names into 乱码.
"""

from __future__ import annotations

import sys

HELP = "导入数据：边界、网格、住户、事件、场所、人员、参考图层 (import files as batches; history, undo)"

LAYERS = ("boundary", "grids", "households", "incidents", "places", "staff", "reference")
ACTIONS = ("categories", "history", "undo")
UNDO_HELP = (
    "undo BATCH removes the rows the batch added and puts back the rows it updated in place or removed "
    "(--mode replace), in one transaction; grid boundaries are closed, and a replaced boundary comes back as a "
    "new version. It refuses when a later batch changed the same rows (undo that first) or an imported incident "
    "was worked on since."
)


def add_arguments(p):
    p.description = (
        "导入数据 load a file into a layer as one batch; `import categories FILE` (category table or aliases), "
        "`import history`, `import undo BATCH`. " + UNDO_HELP
    )
    p.add_argument("layer", choices=LAYERS + ACTIONS, help="目标图层 layer to load into, or categories|history|undo")
    p.add_argument("file", nargs="?", help=".geojson/.json, .gpkg, .zip/.shp (Shapefile), .csv or .xlsx; for undo: the batch id")
    p.add_argument("--crs", help="坐标系 the file's system, overriding what it says: wgs84|cgcs2000|gcj02|bd09|EPSG:n")
    p.add_argument("--encoding", help="编码 the text encoding of a DBF/CSV, overriding detection: utf-8|gbk|gb18030|big5")
    p.add_argument(
        "--layer",
        dest="source_layer",
        metavar="NAME",
        help="图层/工作表 the file's layer (GeoPackage, ZIP) or Excel sheet to read",
    )
    p.add_argument(
        "--grid-layer", metavar="NAME", help="部门网格图层 departmental grid layer (police, urban management...); grids only"
    )
    p.add_argument(
        "--columns", metavar="MAP", help='列映射 e.g. "受理时间=reported_at,事件类型=category" (COLUMN=- ignores a column)'
    )
    p.add_argument(
        "--mode",
        choices=("append", "upsert", "replace"),
        help="upsert (default): rows with an id (工单编号, 户编号, 场所编号) are updated in place; append: add only; "
        "replace: remove the rows of earlier imports of this layer first",
    )
    p.add_argument(
        "--skip-invalid", action="store_true", help="导入有效行 import the valid rows, write the others to FILE.rejected.csv"
    )
    p.add_argument("--rejected", metavar="PATH", help="where --skip-invalid writes the rejected rows (.csv or .xlsx)")
    p.add_argument(
        "--jurisdiction", metavar="CODE", help='本辖区 the unit this database serves, e.g. 620800 or "620800 平凉市" (boundary)'
    )
    p.add_argument("--user", help="who imports (recorded with the batch; default the system user)")
    p.add_argument(
        "--history",
        action="store_true",
        help="历史导入 incidents: closed months load as new partitions (indexes built afterwards, then attached); "
        "the current month and months that already have rows go the normal way",
    )
    p.add_argument("--dry-run", action="store_true", help="试导入 check and count everything, write nothing")
    p.add_argument("--limit", type=int, default=30, help="history: how many batches")
    p.add_argument(
        "--kind",
        choices=("roads", "water", "blocks", "places"),
        help="reference: 底图图层 which reference layer the file holds (roads, water, residential blocks, place names)",
    )
    p.add_argument(
        "--name-column", metavar="COLUMN", help="reference: the column of names (default: 名称/NAME/路名 ... if present)"
    )
    p.add_argument(
        "--class-column", metavar="COLUMN", help="reference: the column of classes (default: 等级/CLASS/类型 ... if present)"
    )
    p.add_argument("--test", action="store_true", help="the test database (quanyu_test)")


def run(args) -> int:
    import getpass

    from geo.cli import CommandError, run_on_db
    from geo.io import importer

    user = args.user or getpass.getuser()
    if args.layer == "history":
        return _history(args)
    if not args.file:
        raise CommandError(
            f"import {args.layer}: FILE is missing"
            if args.layer != "undo"
            else "import undo: give the BATCH id (see python -m geo import history)"
        )
    if args.layer == "undo":
        return _undo(args, user)
    if args.layer == "categories":
        from geo.io import reference

        return run_on_db(
            args,
            importer.ImportFailed,
            lambda conn: reference.import_categories(
                conn, args.file, mode=args.mode or "upsert", encoding=args.encoding, columns_map=args.columns
            ),
        )

    def progress(line, fraction=None):
        print(line if fraction is None else f"[{fraction:4.0%}] {line}", file=sys.stderr, flush=True)

    if args.layer == "reference":
        return _reference(args, user, progress)

    return run_on_db(
        args,
        importer.ImportFailed,
        lambda conn: importer.import_file(
            conn,
            args.layer,
            args.file,
            crs=args.crs,
            grid_layer=args.grid_layer,
            progress=progress,
            encoding=args.encoding,
            source_layer=args.source_layer,
            columns=args.columns,
            mode=args.mode,
            skip_invalid=args.skip_invalid,
            user=user,
            jurisdiction=args.jurisdiction,
            dry_run=args.dry_run,
            rejected_to=args.rejected,
            history=args.history,
        ),
    )


def _reference(args, user: str, progress) -> int:
    from geo.cli import CommandError, run_on_db
    from geo.io import basemap

    if not args.kind:
        raise CommandError("import reference FILE needs --kind roads|water|blocks|places (what the file holds)")

    def work(conn):
        try:
            return basemap.import_basemap(
                conn,
                args.file,
                args.kind,
                name_column=args.name_column,
                class_column=args.class_column,
                crs=args.crs,
                encoding=args.encoding,
                source_layer=args.source_layer,
                mode=args.mode,
                skip_invalid=args.skip_invalid,
                user=user,
                progress=progress,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    from geo.io.problems import ImportFailed

    return run_on_db(args, ImportFailed, work)


def _history(args) -> int:
    from geo import db
    from geo.io import batches

    conn = db.connect(test=args.test)
    try:
        rows = batches.history(conn, args.limit)
    finally:
        conn.close()
    if not rows:
        print("no imports yet")
    for r in rows:
        state = f"  undone {r['undone_at']:%Y-%m-%d %H:%M} by {r['undone_by']}" if r["undone_at"] else ""
        print(
            f"{r['id']:>5}  {r['imported_at']:%Y-%m-%d %H:%M}  {r['imported_by']:<10} {r['layer']:<12} {r['file_name']}  "
            f"{r['mode']}: {r['rows_read']} read, {r['inserted']} new, {r['updated']} updated, {r['unchanged']} unchanged, "
            f"{r['removed']} removed, {r['rejected']} rejected{state}"
        )
    return 0


def _undo(args, user: str) -> int:
    from geo import db
    from geo.cli import CommandError
    from geo.io import batches

    try:
        batch = int(args.file)
    except ValueError:
        raise CommandError(f"import undo: {args.file!r} is not a batch id (see python -m geo import history)") from None
    conn = db.connect(test=args.test)
    try:
        done = batches.undo(conn, batch, user)
    except batches.UndoRefused as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    print(
        f"撤销完成 undid batch {done['batch']} ({done['layer']} from {done['file_name']}): {done['removed']} row(s) removed, {done['restored']} restored"
    )
    return 0
