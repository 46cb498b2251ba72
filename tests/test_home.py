"""The unit a page opens on (geo/web/home.py): six-digit codes nest by trailing zeros, so a
province's city and county accounts open on their own units, not the province's."""

from __future__ import annotations

import pytest

from geo import db
from geo.security import access
from geo.web.home import home_code, unit_code


@pytest.mark.parametrize(
    "jurisdiction, account, home",
    [
        ("990000", "990000", ""),  # the province's own account: the whole jurisdiction
        ("990000", "990100", "9901"),  # a city of the province
        ("990000", "990101", "990101"),  # a county
        ("990000", "990101001", "990101001"),  # a town
        ("629900", "629900", ""),  # a city deployment's own account
        ("629900", "629901", "629901"),  # a county of the city (was: the whole city)
        ("620802", "620802", ""),  # a county deployment (the demo)
        ("620802", "620802001", "620802001"),
        ("620802", "620802001001", "620802001001"),
    ],
)
def test_an_account_opens_on_its_own_unit(conn, jurisdiction, account, home):
    try:
        db.execute(conn, "DELETE FROM jurisdiction")
        db.execute(conn, "INSERT INTO jurisdiction (code, name, metric_srid) VALUES (%s, 'j', 4545)", (jurisdiction,))
        with db.scoped(access.Scope("t", "admin", account)):
            assert home_code(conn) == home
    finally:
        conn.rollback()
    assert unit_code(home) == ("" if not home else (home if len(home) >= 6 else account))
