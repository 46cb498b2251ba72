"""The one in-process cache of the app: a least-recently-used map, and per-day values.

Every cache keys its results by everything they depend on (data versions, database, the
account's scope, the arguments), so an entry is never stale, only unused; an LRU keeps the
most recently used within a budget and is safe under the app's threads. Threads missing the
same key at once compute it once (issue #17): the first computes, the others wait for its
result (or its exception) instead of repeating the work: fifty screens refreshing after the
same write, or asking for the same new tile, cost one computation per worker, not fifty. Its users: the big
screen's counts (geo/analysis/dashboard.py, geo/analysis/heat.py), vector tiles within a
byte budget (geo/web/api/tiles.py), the drill page's jurisdiction-wide hotspot statistics,
the hotspot weights, and the web workers' signed-in sessions (geo/security/session_cache.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections import OrderedDict
from datetime import date, datetime
from typing import Callable, Hashable, TypeVar

import numpy as np
from psycopg2.extras import execute_values

T = TypeVar("T")
FLIGHT_WAIT_S = 120.0  # a waiter computes by itself if the first thread takes longer than this


class _Flight:
    """One computation in progress, and what the threads waiting for it receive."""

    __slots__ = ("done", "value", "error", "owner")

    def __init__(self):
        self.done = threading.Event()
        self.value = None
        self.error: BaseException | None = None
        self.owner = threading.get_ident()


class LRU:
    """At most `maxsize` entries, or with `weigh` (value -> int, e.g. `len` of bytes) at most
    `maxsize` in total weight; the least recently used go first. An entry heavier than the
    whole budget is not kept at all."""

    def __init__(self, maxsize: int, weigh: Callable[[object], int] | None = None):
        self.maxsize = maxsize
        self._weigh = weigh
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._weights: dict[Hashable, int] = {}
        self.weight = 0  # total weight (entries when no `weigh`)
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value under `key`, computed (outside the lock) and kept when missing; while one
        thread computes it, the others missing it wait for that result."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[return-value]
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        if not leader:
            if flight.owner != threading.get_ident() and flight.done.wait(FLIGHT_WAIT_S):
                if flight.error is not None:
                    raise flight.error
                return flight.value  # type: ignore[return-value]
            return compute()  # the same thread again (a compute that asks for its own key), or a stuck leader
        try:
            value = compute()
        except BaseException as exc:
            flight.error = exc
            raise
        else:
            flight.value = value
            self.put(key, value)
            return value
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def get_if_present(self, key: Hashable):
        """The value under `key`, or None."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: Hashable, value) -> None:
        """Keep `value` under `key` (replacing an entry there), then evict down to the budget."""
        w = self._weigh(value) if self._weigh else 1
        with self._lock:
            if key in self._items:
                self.weight -= self._weights.pop(key)
                del self._items[key]
            self._items[key] = value
            self._weights[key] = w
            self.weight += w
            while self.weight > self.maxsize and self._items:
                old, _ = self._items.popitem(last=False)
                self.weight -= self._weights.pop(old)

    def discard(self, key: Hashable) -> None:
        """Drop the entry under `key`, if any (e.g. a session signed out)."""
        with self._lock:
            if key in self._items:
                del self._items[key]
                self.weight -= self._weights.pop(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weights.clear()
            self.weight = 0

    def __len__(self) -> int:
        return len(self._items)


# --------------------------------------------------------------------------- per local day

_maps = LRU(8)


def day_versions(conn) -> tuple[int, dict[date, int]]:
    """The generation and every day's version from the change log incident_day_version
    (migration 0024). A day without a row has not changed since the log began: version 0.

    Read BEFORE the counts it tags: a cache entry may then hold data newer than its tag
    (re-read at the next refresh), never older. The map is kept per committed incident
    data version and generation (all three are written by the same statements; a TRUNCATE,
    which restarts the data versions in the tests, moves the generation, a sequence value
    never given twice), so an unchanged database costs one tiny query; the map and its key
    are read in one statement, one snapshot."""
    from geo import db

    where = (conn.info.host, conn.info.port, conn.info.dbname)
    state = """(SELECT version FROM data_version WHERE name = 'incident') AS current,
               (SELECT version FROM incident_day_version WHERE day = '-infinity') AS generation"""
    now = db.one(conn, f"SELECT {state}")
    hit = _maps.get_if_present(where + (now["current"], now["generation"]))
    if hit is not None:
        return hit
    row = db.one(
        conn,
        f"""
        SELECT {state}, array_agg(day) FILTER (WHERE day <> '-infinity') AS days,
               array_agg(version) FILTER (WHERE day <> '-infinity') AS versions
          FROM incident_day_version""",
    )
    out = (row["generation"] or 0, dict(zip(row["days"] or (), row["versions"] or ())))
    _maps.get(where + (row["current"], row["generation"]), lambda: out)
    return out


class Days:
    """Values of one query family (scope, grouping, database, role scope, generation) per
    local day, each tagged with the day's version when it was read. A write re-reads only
    the days it touched; the other days are served from memory.

    `fetch(days)` returns {day: value} for the given days (a day missing from its answer
    has no rows: `empty`); `fetch(None)` reads every day at once (`every_day`). Thread-safe;
    threads refreshing the same days at the same versions read them once (the twelve tiles
    of a screen after a write of today ask together: one read of today, not twelve).

    With `persist` (the family's key) and a connection passed to get/every_day, the days
    are kept in the database as well (table day_cache, migration 0074): a new worker reads
    the family's few hundred small rows once instead of rescanning a year of incident_daily
    (issue #17, a cold process within budget), and every day it reads from the database it
    writes back for the next worker. The tags work as in memory, so a persisted day whose
    version moved is re-read, never served.
    """

    def __init__(self, empty, max_days: int | None = 800, persist: Hashable | None = None):
        self.empty = empty
        self.max_days = max_days
        self._values: dict[date, object] = {}
        self._tags: dict[date, int] = {}
        self._complete = False
        self._lock = threading.Lock()
        self._family = hashlib.md5(repr(persist).encode()).hexdigest() if persist is not None else None
        self._loaded = False
        self.reads = 0  # days read from the database (the tests check what a write re-reads)
        self._fetches = LRU(4)  # the single flight of concurrent refreshes of the same days

    def get(self, days, versions: dict[date, int], fetch, conn=None) -> dict[date, object]:
        """Each of `days`' value at `versions`."""
        days = list(days)
        self._load(conn)
        with self._lock:
            out = {d: self._values[d] for d in days if d in self._tags and self._tags[d] == versions.get(d, 0)}
        stale = [d for d in days if d not in out]
        if stale:
            key = tuple((d, versions.get(d, 0)) for d in stale)
            fresh = self._fetches.get(key, lambda: self._refresh(stale, versions, days, fetch, conn))
            out.update((d, fresh.get(d, self.empty)) for d in stale)
        return out

    def _refresh(self, stale, versions, keep, fetch, conn) -> dict:
        fresh = fetch(stale)
        self._store({d: fresh.get(d, self.empty) for d in stale}, versions, keep=keep, conn=conn)
        return fresh

    def every_day(self, versions: dict[date, int], fetch, conn=None) -> dict[date, object]:
        """Every day's value at `versions`, days without rows left out: the first call reads
        all days in one query, later calls only the days whose version changed."""
        self._load(conn)
        with self._lock:
            complete = self._complete
        if not complete:
            fresh = fetch(None)
            self._store({d: fresh.get(d, self.empty) for d in set(fresh) | set(versions)}, versions, complete=True, conn=conn)
            return fresh
        with self._lock:
            days = set(self._tags) | set(versions)
        return {d: v for d, v in self.get(days, versions, fetch, conn).items() if v is not self.empty}

    def _store(self, values: dict, versions: dict, keep=(), complete: bool = False, conn=None) -> None:
        with self._lock:
            self.reads += len(values)
            for d, v in values.items():
                self._values[d] = v
                self._tags[d] = versions.get(d, 0)
            self._complete = self._complete or complete
            if self.max_days is not None and len(self._tags) > self.max_days:  # keep the days asked for now
                keep = set(keep)
                for d in [d for d in self._tags if d not in keep][: len(self._tags) - self.max_days]:
                    del self._tags[d], self._values[d]
        if self._family is not None and conn is not None and values:
            _save_days(conn, self._family, values, versions, self.empty, complete)

    def _load(self, conn) -> None:
        """The family's persisted days, once per process (and only into an empty family)."""
        if self._family is None or conn is None or self._loaded:
            return
        rows = _load_days(conn, self._family, self.empty)
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            if self._tags or rows is None:
                return
            for d, (version, value) in rows.items():
                if d == date.min:
                    self._complete = True
                else:
                    self._values[d], self._tags[d] = value, version

    def __len__(self) -> int:
        return len(self._tags)


# --------------------------------------------------------------------------- persisted days
# Tagged JSON, not pickle: a value read from the database is data and can never run code.


def encode(value) -> bytes:
    """A cached day's value (None, numbers, strings, dates, tuples, lists, dicts with any of
    these as keys, numpy arrays of plain dtypes) as bytes."""
    return json.dumps(_tagged(value), separators=(",", ":")).encode()


def decode(raw: bytes):
    return _untagged(json.loads(raw))


def _tagged(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, np.ndarray):
        if v.dtype.hasobject:
            raise TypeError("object arrays are not kept")
        return {"a": [v.dtype.str, list(v.shape), base64.b64encode(np.ascontiguousarray(v).tobytes()).decode()]}
    if isinstance(v, datetime):
        raise TypeError("instants are not kept per day")
    if isinstance(v, date):
        return {"day": v.isoformat()}
    if isinstance(v, tuple):
        return {"t": [_tagged(x) for x in v]}
    if isinstance(v, list):
        return {"l": [_tagged(x) for x in v]}
    if isinstance(v, dict):
        if all(type(k) is tuple and all(_plain(e) for e in k) and type(x) is int for k, x in v.items()):
            return {
                "k": [list(k) for k in v],
                "n": list(v.values()),
            }  # counts by a tuple of dimensions: the common case, decoded in one pass
        return {"d": [[_tagged(k), _tagged(x)] for k, x in v.items()]}
    raise TypeError(f"cannot keep {type(v).__name__}")


def _plain(e) -> bool:
    return e is None or type(e) in (str, int, bool)


def _untagged(v):
    if not isinstance(v, dict):
        return v
    if "a" in v:
        dtype, shape, data = v["a"]
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise ValueError("object arrays are not kept")
        return np.frombuffer(base64.b64decode(data), dtype=dt).reshape(shape)
    if "day" in v:
        return date.fromisoformat(v["day"])
    if "t" in v:
        return tuple(_untagged(x) for x in v["t"])
    if "l" in v:
        return [_untagged(x) for x in v["l"]]
    if "k" in v:
        return dict(zip(map(tuple, v["k"]), v["n"]))
    return {_untagged(k): _untagged(x) for k, x in v["d"]}


def _save_days(conn, family: str, values: dict, versions: dict, empty, complete: bool) -> None:
    """Upsert the days before today just read, in day order (two workers saving the same
    family never deadlock), inside a savepoint: a cache that cannot be written (a read-only standby, a
    role without the grant) costs the caller nothing but the next worker's scan."""
    if getattr(conn, "readonly", False):  # a replica's connection (geo.db.pool): the write would only fail there
        return
    from geo.worktime import CST

    today = datetime.now(CST).date()  # today moves with every report: the next worker reads it anyway, and cheaply
    rows = [(family, d, versions.get(d, 0), b"" if v is empty else encode(v)) for d, v in sorted(values.items()) if d < today]
    if not rows and not complete:
        return
    if complete:
        rows.insert(0, (family, date.min, 0, b""))
    sql = """INSERT INTO day_cache (family, day, version, payload) VALUES %s
             ON CONFLICT (owner_key, family, day) DO UPDATE
                SET version = EXCLUDED.version, payload = EXCLUDED.payload, saved_at = now()"""
    _in_savepoint(conn, lambda cur: execute_values(cur, sql, [(f, _pg_day(d), n, p) for f, d, n, p in rows], page_size=500))


def _load_days(conn, family: str, empty) -> dict | None:
    """{day: (version, value)} of a persisted family (date.min: the family was complete)."""
    found: list = []
    ok = _in_savepoint(
        conn,
        lambda cur: (
            cur.execute("SELECT day, version, payload FROM day_cache WHERE family = %s", (family,)),
            found.extend(cur.fetchall()),
        ),
    )
    if not ok:
        return None
    out = {}
    for row in found:
        day, version, payload = (row["day"], row["version"], row["payload"]) if isinstance(row, dict) else row
        day = date.min if day is None or (isinstance(day, str) and day == "-infinity") else day
        out[day] = (version, empty if not payload else decode(bytes(payload)))
    return out


def _pg_day(d: date):
    return "-infinity" if d == date.min else d


def _in_savepoint(conn, work) -> bool:
    import psycopg2

    with conn.cursor() as cur:
        if conn.autocommit:
            try:
                work(cur)
                return True
            except psycopg2.Error:
                return False
        cur.execute("SAVEPOINT day_cache")
        try:
            work(cur)
        except psycopg2.Error:
            cur.execute("ROLLBACK TO SAVEPOINT day_cache")
            return False
        cur.execute("RELEASE SAVEPOINT day_cache")
        return True
