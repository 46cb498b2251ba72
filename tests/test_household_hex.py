"""The map's household hexagons are recounted town by town (0101): a change to households
marks the towns it touched, the layer recounts those towns before its tile, and the result
is the table a full recount makes. Before, any change made the next tile recount every
household of the jurisdiction (35 s at city scale, inside a screen's request)."""

from __future__ import annotations

import pytest

from geo import db
from geo.io import importer
from layers import households as households_layer

WEST_TOWN, EAST_TOWN = "620802001", "620802002"
WEST, EAST = WEST_TOWN + "001", EAST_TOWN + "001"


@pytest.fixture
def two_towns(tiny_jurisdiction, conn):
    """The tiny district's town (west) and a second town east of it, households in both,
    the hexagons counted."""
    with db.transaction(conn) as cur:
        for code, level, parent, box in (
            (EAST_TOWN, "town", "620802", (106.67, 35.53, 106.69, 35.55)),
            (EAST, "community", EAST_TOWN, (106.67, 35.53, 106.69, 35.55)),
        ):
            cur.execute(
                """INSERT INTO admin_unit (code, level, name, kind, urban, parent_code, geom)
                   VALUES (%s, %s, %s, '社区', true, %s, ST_Multi(ST_MakeEnvelope(%s, %s, %s, %s, 4326)))""",
                (code, level, code, parent, *box),
            )
    for i in range(12):
        _add(conn, WEST, 106.652 + 0.0012 * i, 35.535 + 0.0011 * i, persons=1 + i % 4)
        _add(conn, EAST, 106.672 + 0.0012 * i, 35.535 + 0.0011 * i, persons=2 + i % 3)
    db.scalar(conn, "SELECT refresh_household_hex()")
    conn.commit()
    return conn


def _add(conn, admin_code: str, lon: float, lat: float, persons: int = 3) -> int:
    hid = db.scalar(
        conn,
        """INSERT INTO household (address, head_name, phone, persons, admin_code, geom)
           VALUES ('门牌', '住户', '13900000000', %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING id""",
        (persons, admin_code, lon, lat),
    )
    conn.commit()
    return hid


def _hexes(conn, town: str | None = None) -> set[tuple]:
    rows = db.rows(
        conn,
        """SELECT size_m, households, persons, admin_code, ST_AsEWKB(geom) AS g, xmin::text AS xmin
             FROM household_hex WHERE %(town)s::text IS NULL OR admin_code = %(town)s""",
        {"town": town},
    )
    return {(r["size_m"], r["households"], r["persons"], r["admin_code"], bytes(r["g"]), r["xmin"]) for r in rows}


def _without_xmin(hexes: set[tuple]) -> set[tuple]:
    return {h[:-1] for h in hexes}


def _dirty(conn) -> set[str]:
    out = {r["admin_code"] for r in db.rows(conn, "SELECT admin_code FROM household_hex_dirty")}
    conn.commit()
    return out


def test_a_change_recounts_its_town_only_and_gives_what_a_full_recount_gives(two_towns):
    conn = two_towns
    assert _dirty(conn) == set() and not db.scalar(conn, "SELECT household_hex_stale()")
    east_before = _hexes(conn, EAST_TOWN)
    west_before = _hexes(conn, WEST_TOWN)
    assert east_before and west_before
    _add(conn, WEST, 106.6535, 35.5362, persons=5)
    assert _dirty(conn) == {WEST_TOWN} and db.scalar(conn, "SELECT household_hex_stale()")

    households_layer.refresh_if_stale(conn)  # what the households tile does before drawing
    assert _dirty(conn) == set()
    assert _hexes(conn, EAST_TOWN) == east_before  # not rewritten: the same row versions (xmin)
    west_after = _hexes(conn, WEST_TOWN)
    assert sum(h[1] for h in west_after if h[0] == 1000) == 13  # the new household is counted
    assert sum(h[2] for h in west_after if h[0] == 1000) == sum(h[2] for h in west_before if h[0] == 1000) + 5
    by_town = _without_xmin(_hexes(conn))
    db.scalar(conn, "SELECT refresh_household_hex()")
    conn.commit()
    assert _without_xmin(_hexes(conn)) == by_town  # every hexagon, count and outline as a full recount


def test_moves_deletes_and_truncate_mark_the_towns_they_touch(two_towns):
    conn = two_towns
    moved = _add(conn, WEST, 106.655, 35.54)
    db.scalar(conn, "SELECT refresh_household_hex_changed()")
    conn.commit()
    db.execute(
        conn,
        "UPDATE household SET admin_code = %s, geom = ST_SetSRID(ST_MakePoint(106.675, 35.54), 4326) WHERE id = %s",
        (EAST, moved),
    )
    conn.commit()
    assert _dirty(conn) == {WEST_TOWN, EAST_TOWN}  # the town it left and the one it joined
    db.scalar(conn, "SELECT refresh_household_hex_changed()")
    conn.commit()
    assert sum(h[1] for h in _hexes(conn, EAST_TOWN) if h[0] == 1000) == 13
    assert sum(h[1] for h in _hexes(conn, WEST_TOWN) if h[0] == 1000) == 12
    db.execute(conn, "DELETE FROM household WHERE id = %s", (moved,))
    conn.commit()
    assert _dirty(conn) == {EAST_TOWN}
    db.execute(conn, "TRUNCATE household CASCADE")
    conn.commit()
    assert "*" in _dirty(conn)  # everything: the next refresh recounts the whole table
    assert db.scalar(conn, "SELECT refresh_household_hex_changed()") == 0
    conn.commit()
    assert _hexes(conn) == set() and _dirty(conn) == set()


def test_a_households_import_counts_its_towns_hexagons_itself(gridded, tmp_path):
    """The file's towns are recounted inside the import, so the wall screen's next tile finds
    nothing to recount."""
    path = tmp_path / "households.csv"
    path.write_text(
        "户编号,地址,户主,电话,人数,经度,纬度\n"
        + "".join(f"H{i:03d},新民路{i}号,张{i},1390000{i:04d},{1 + i % 5},{106.652 + 0.0004 * i:.6f},35.54\n" for i in range(20)),
        encoding="utf-8",
    )
    gridded.commit()
    db.scalar(gridded, "SELECT refresh_household_hex()")  # the empty table, counted
    gridded.commit()
    importer.import_file(gridded, "households", path)
    assert _dirty(gridded) == set() and not db.scalar(gridded, "SELECT household_hex_stale()")
    assert sum(h[1] for h in _hexes(gridded) if h[0] == 1000) == 20
