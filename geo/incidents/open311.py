"""What Open311 GeoReport v2 reads and writes, in SQL: the domain half of /open311/v2/.

The web half (geo/web/api/open311.py) parses and answers in the specification's format;
everything that touches the database is here, like every other endpoint's queries.

Why the public view is decided here and not in the endpoint (issue #18, finding 1): the
anonymous reads are the one surface anybody on the internet sees, so what they may hold is a
property of the data, not of a response formatter. Three rules, each general rather than a
list of known bad rows:

- **Only published categories** (`category.public`, migration 0025): key persons, special
  populations, public-security leads, disputes and welfare cases are sensitive personal
  information under the PIPL and never leave the centre anonymously. A key with the scope
  `read:restricted` reads every category.
- **Coarse places**: we cannot tell from a point whether it is somebody's door, so every
  anonymous position is the centre of the incident's grid (else of its community, else
  rounded to 0.01 degree, about 1 km) and the address is the community's name, never the
  flat. The description is scrubbed of digit runs (phones, ID numbers, house and flat
  numbers, also read out in Chinese numerals), e-mail addresses, chat handles (微信, QQ)
  and building/unit/room numbers, and no photo is listed. Names are not recognised.
  A key with `read:precise` reads the exact position, address, description and photo.
- **Party details never**: reporters' names, phones and e-mails are not even selected.
"""

from __future__ import annotations

import re
from datetime import datetime

from geo import db
from geo.incidents import dispatch as routing
from geo.incidents import lifecycle

RESTRICTED = "read:restricted"  # unpublished categories
PRECISE = "read:precise"  # exact position, address, description and photo
SCOPES = (RESTRICTED, PRECISE)
COARSE_DEGREES = 0.01  # the fallback rounding when a point has neither grid nor community

# What a description may not show anonymously: runs of 5+ digits (phones, ID numbers,
# including ones written with spaces or dashes), e-mail addresses, and building, unit,
# room and house numbers (3栋2单元401室, 12号).
_SCRUB = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\d[\d\s-]{3,}\d[\dXx]?"
    r"|[零〇一二三四五六七八九幺两](?:[\s-]*[零〇一二三四五六七八九幺两]){4,}"  # a phone read out: 一三八一二三四…
    r"|[0-9０-９一二三四五六七八九十百零〇]+\s*(?:号楼|栋|幢|座|单元|室|户|号院|号|层|楼)"
)
SCRUBBED = "＊"
# A contact handle after its app's name (微信 zjg_1990, QQ号：12345678): a person, found in one step.
_HANDLE = re.compile(r"((?:微信|v信|vx|wx|QQ|抖音|钉钉)号?\s*[:：]?\s*)[A-Za-z0-9][\w.-]{2,}", re.IGNORECASE | re.ASCII)


def scrub(text: str | None) -> str | None:
    """A description fit for anonymous reading: no phone, ID, e-mail or house number."""
    if not text:
        return text
    return _SCRUB.sub(SCRUBBED, _HANDLE.sub(lambda m: m.group(1) + SCRUBBED, text))


def jurisdiction_exists(conn, code: str) -> bool:
    return bool(db.scalar(conn, "SELECT EXISTS (SELECT 1 FROM jurisdiction WHERE code = %s)", (code,)))


def changed_at(conn) -> datetime | None:
    """When incidents last changed (the discovery document's changeset)."""
    return db.scalar(conn, "SELECT max(changed_at) FROM data_version WHERE name = 'incident'")


def services(conn) -> list[dict]:
    """Every category a client may report in (reporting is open to every key; reading is not)."""
    return db.rows(
        conn,
        "SELECT minor_code, minor_name, major_name, department, description, public FROM category ORDER BY minor_code",
    )


def category_exists(conn, code: str) -> bool:
    return bool(db.scalar(conn, "SELECT EXISTS (SELECT 1 FROM category WHERE minor_code = %s)", (code,)))


def create(conn, client: str, fields: dict) -> dict:
    """A new incident from client `client` (an API key's name); its id, deadline and department."""
    incident_id = routing.create_incident(conn, actor=f"open311:{client}", source="open311", **fields)
    row = db.one(
        conn,
        "SELECT i.id, i.deadline, c.department FROM incident i JOIN category c USING (minor_code) WHERE i.id = %s",
        (incident_id,),
    )
    return row


def incident_exists(conn, incident_id: int, scopes=()) -> bool:
    """Whether the caller may know the incident exists: the same rule as the reads (an
    unpublished category needs read:restricted), or a token would count what reads hide."""
    return bool(
        db.scalar(
            conn,
            """SELECT EXISTS (SELECT 1 FROM incident i JOIN category c USING (minor_code)
                               WHERE i.id = %s AND (%s OR c.public))""",
            (incident_id, RESTRICTED in scopes),
        )
    )


def now(conn) -> datetime:
    return db.scalar(conn, "SELECT now()")


# The position and address shown: exact with read:precise, else the grid's (or community's)
# centre and the community's name. Reporter columns are not selected at all.
_SELECT = f"""
    SELECT i.id, i.status, i.minor_code, c.minor_name, c.department, c.public,
           i.description, i.reported_at, i.deadline, i.grid_code, i.level_handled, i.merged_into,
           CASE WHEN %(precise)s THEN i.address ELSE place.name END AS address,
           CASE WHEN %(precise)s THEN i.media_url END AS media_url,
           ST_X(pos.geom) AS lon, ST_Y(pos.geom) AS lat,
           COALESCE((SELECT max(h.at) FROM incident_history h WHERE h.incident_id = i.id), i.reported_at) AS updated_at
      FROM incident i JOIN category c USING (minor_code)
      LEFT JOIN LATERAL (
            SELECT concat(t.name, u.name) AS name
              FROM admin_unit u LEFT JOIN admin_unit t ON t.code = u.parent_code AND u.level = 'community'
             WHERE u.code = i.admin_code) place ON true
      LEFT JOIN LATERAL (
            SELECT CASE WHEN %(precise)s THEN i.geom
                        ELSE COALESCE(
                            (SELECT ST_PointOnSurface(g.geom) FROM grid_current g WHERE g.code = i.grid_code LIMIT 1),
                            (SELECT ST_PointOnSurface(u.geom) FROM admin_unit u WHERE u.code = i.admin_code
                               AND u.level = 'community' AND u.geom IS NOT NULL),
                            ST_SnapToGrid(i.geom, {COARSE_DEGREES})) END AS geom) pos ON true
     WHERE (%(restricted)s OR c.public)
"""


def _shown(rows: list[dict], precise: bool) -> list[dict]:
    if not precise:
        for r in rows:
            r["description"] = scrub(r["description"])
    return rows


def requests_by_id(conn, ids: list[int], scopes=()) -> list[dict]:
    """The requests with these ids that the caller may read, by id."""
    params = {"ids": ids, "precise": PRECISE in scopes, "restricted": RESTRICTED in scopes}
    return _shown(db.rows(conn, _SELECT + " AND i.id = ANY(%(ids)s::bigint[]) ORDER BY i.id", params), params["precise"])


def find_requests(
    conn,
    *,
    start: datetime,
    end: datetime,
    codes: list[str] | None,
    want_open: bool,
    want_closed: bool,
    limit: int,
    offset: int,
    scopes=(),
) -> list[dict]:
    """Requests reported in [start, end], newest first, one page of them."""
    params = {
        "start": start,
        "end": end,
        "codes": codes or None,
        "closed": list(lifecycle.CLOSED_STATUSES),
        "want_open": want_open,
        "want_closed": want_closed,
        "limit": limit,
        "offset": offset,
        "precise": PRECISE in scopes,
        "restricted": RESTRICTED in scopes,
    }
    sql = (
        _SELECT
        + """ AND i.reported_at >= %(start)s AND i.reported_at <= %(end)s
              AND (%(codes)s::text[] IS NULL OR i.minor_code = ANY(%(codes)s::text[]))
              AND (%(want_open)s OR i.status = ANY(%(closed)s))
              AND (%(want_closed)s OR NOT (i.status = ANY(%(closed)s)))
            ORDER BY i.reported_at DESC, i.id DESC LIMIT %(limit)s OFFSET %(offset)s"""
    )
    return _shown(db.rows(conn, sql, params), params["precise"])
