"""The county's reference layers: imported as its surveying office writes them (GBK shapefile
in a Gauss-Kruger zone without .cpg, a GeoPackage of places), shown in tiles with their
names, by rank at low zoom, replaced on re-import, undone by batch; partition follows them."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from geo import cli, db, tiles
from geo.io import basemap, batches
from geo.io.problems import ImportFailed
from layers import LAYERS

TO_GK = pyproj.Transformer.from_crs(4326, 4545, always_xy=True)  # CGCS2000 3-degree GK CM 108E


def gk(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(TO_GK.transform(xy[:, 0], xy[:, 1])))


ROADS = [  # name, class, WGS84 line across the tiny jurisdiction (106.65-106.67 x 35.53-35.55)
    ("崆峒大道", "国道", shapely.LineString([(106.645, 35.540), (106.675, 35.540)])),
    ("解放路", "主干路", shapely.LineString([(106.655, 35.525), (106.655, 35.555)])),
    ("柳湖巷", "支路", shapely.LineString([(106.662, 35.532), (106.662, 35.548)])),
]


def road_shapefile(tmp_path, roads=ROADS, name="roads"):
    """路名/道路等级 in GBK, no .cpg and no code page byte: what ArcGIS leaves behind."""
    folder = tmp_path / name
    folder.mkdir()
    gdf = gpd.GeoDataFrame(
        {"路名": [r[0] for r in roads], "道路等级": [r[1] for r in roads]}, geometry=[gk(r[2]) for r in roads], crs=4545
    )
    gdf.to_file(folder / f"{name}.shp", engine="pyogrio", encoding="GBK")
    for cpg in folder.glob("*.cpg"):
        cpg.unlink()
    dbf = folder / f"{name}.dbf"
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0
    dbf.write_bytes(bytes(raw))
    target = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for p in folder.glob(f"{name}.*"):
            zf.write(p, p.name)
    return target


def tile_of(conn, lon, lat, z, layer="street_names"):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * n)
    return tiles.render(conn, LAYERS[layer], z, x, y, {"start": None, "end": None, "major": None})


def test_roads_import_as_the_office_wrote_them(tiny_jurisdiction, conn, tmp_path):
    result = basemap.import_basemap(conn, road_shapefile(tmp_path), "roads", user="planner")
    assert result.features == 3 and "GBK" in " ".join(result.notes)
    assert "4545" in result.crs_line or "Gauss" in result.crs_line or "CGCS2000" in result.crs_line
    rows = db.rows(conn, "SELECT name, class, rank, ST_AsText(geom) AS wkt FROM basemap_feature ORDER BY rank")
    assert [(r["name"], r["class"], r["rank"]) for r in rows] == [
        ("崆峒大道", "国道", 1),
        ("解放路", "主干路", 2),
        ("柳湖巷", "支路", 4),
    ]
    back = shapely.from_wkt(rows[0]["wkt"])
    assert shapely.hausdorff_distance(back, ROADS[0][2]) < 1e-7  # about a centimetre


def test_tiles_carry_names_and_show_majors_first(tiny_jurisdiction, conn, tmp_path):
    basemap.import_basemap(conn, road_shapefile(tmp_path), "roads")
    for name, _, line in ROADS:  # labels at street level, each in the tile under its road
        at = line.interpolate(0.5, normalized=True)
        assert name.encode() in tile_of(conn, at.x, at.y, 15)
    far = tile_of(conn, 106.66, 35.54, 9)
    assert "崆峒大道".encode() in far and "柳湖巷".encode() not in far  # a county at zoom 9: highways only
    for z in range(8, 18):
        assert "崆峒大道".encode() in tile_of(conn, 106.66, 35.54, z)  # at every zoom
        assert tile_of(conn, 106.66, 35.54, z, "basemap")  # and the road itself


def test_reimport_replaces_and_undo_brings_back(tiny_jurisdiction, conn, tmp_path):
    first = basemap.import_basemap(conn, road_shapefile(tmp_path), "roads")
    second = basemap.import_basemap(conn, road_shapefile(tmp_path, ROADS[:1], name="roads2"), "roads")
    assert second.removed == 3
    assert db.scalar(conn, "SELECT count(*) FROM basemap_feature") == 1
    batches.undo(conn, second.batch, "planner")
    assert db.scalar(conn, "SELECT count(*) FROM basemap_feature") == 3
    batches.undo(conn, first.batch, "planner")
    assert db.scalar(conn, "SELECT count(*) FROM basemap_feature") == 0


def test_places_from_a_geopackage_and_bad_rows_listed(tiny_jurisdiction, conn, tmp_path):
    path = tmp_path / "地名.gpkg"
    gdf = gpd.GeoDataFrame(
        {"标准名称": ["东关街道", "新民社区", "境外点"], "地名类别": ["街道", "社区", "村"]},
        geometry=[shapely.Point(106.66, 35.54), shapely.Point(106.652, 35.545), shapely.Point(140.0, 40.0)],
        crs=4326,
    )
    gdf.to_file(path, engine="pyogrio", layer="地名")
    with pytest.raises(ImportFailed) as failed:
        basemap.import_basemap(conn, path, "places")
    assert "feature 3" in str(failed.value) and "outside China" in str(failed.value)
    assert db.scalar(conn, "SELECT count(*) FROM basemap_feature") == 0  # nothing half written
    ok = basemap.import_basemap(conn, path, "places", skip_invalid=True)
    assert ok.features == 2
    assert db.rows(conn, "SELECT name, rank FROM basemap_feature ORDER BY rank") == [
        {"name": "东关街道", "rank": 2},
        {"name": "新民社区", "rank": 3},
    ]


def test_cli(tiny_jurisdiction, conn, tmp_path, capsys):
    path = road_shapefile(tmp_path)
    assert cli.main(["import", "reference", str(path), "--test"]) == 1
    assert "--kind" in capsys.readouterr().err
    assert cli.main(["import", "reference", str(path), "--kind", "roads", "--test"]) == 0
    out = capsys.readouterr().out
    assert "3 feature(s)" in out and "batch" in out
    assert cli.main(["import", "reference", str(path), "--kind", "roads", "--name-column", "不存在", "--test"]) == 1
    assert "不存在" in capsys.readouterr().err
