"""Run-time settings, all from the environment, with defaults that work offline.

| variable | default | meaning |
|---|---|---|
| DATABASE_URL | embedded cluster | PostGIS database (any PostGIS >= 3.1) |
| QUANYU_HOST / QUANYU_PORT | 127.0.0.1 / 8050 | where the dashboard listens |
| QUANYU_BASEMAP_URL | none | raster tile URL template ({z}/{x}/{y}), e.g. an intranet tile server |
| QUANYU_BASEMAP_CRS | wgs84 | the basemap's coordinate system: wgs84 or gcj02 (AMap/Tencent-style tiles) |
| QUANYU_BASEMAP_ATTRIBUTION | "" | attribution text shown on the map |
| QUANYU_LIVE_SECONDS | 5 | how often the big screen polls for changes |
| QUANYU_STATEMENT_TIMEOUT_TILES | 10 | longest a vector tile's queries may run, in seconds (pg_tileserv's default too) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Where the repository's own folders are: data/ (data only), var/ (the embedded database,
# uploads, benchmark reports). Every module that needs one of them asks here.
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
VAR_DIR = REPO_ROOT / "var"
# Longest a vector tile's queries may run by default (seconds; pg_tileserv's DbTimeout is 10 s
# too): geo.tiles sets it on the tile's transaction, geo.web.auth on every /tiles/ request.
TILE_TIMEOUT_S = 10


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    basemap_url: str | None
    basemap_crs: str
    basemap_attribution: str
    live_seconds: float
    tile_timeout_s: float


def settings() -> Settings:
    crs = os.environ.get("QUANYU_BASEMAP_CRS", "wgs84").strip().lower().replace("-", "")
    if crs not in ("wgs84", "gcj02"):
        raise ValueError(f"QUANYU_BASEMAP_CRS must be wgs84 or gcj02, not {crs!r}")
    return Settings(
        host=os.environ.get("QUANYU_HOST", "127.0.0.1"),
        port=int(os.environ.get("QUANYU_PORT", "8050")),
        basemap_url=os.environ.get("QUANYU_BASEMAP_URL") or None,
        basemap_crs=crs,
        basemap_attribution=os.environ.get("QUANYU_BASEMAP_ATTRIBUTION", ""),
        live_seconds=float(os.environ.get("QUANYU_LIVE_SECONDS", "5")),
        tile_timeout_s=_positive_seconds("QUANYU_STATEMENT_TIMEOUT_TILES", str(TILE_TIMEOUT_S)),
    )


def _positive_seconds(name: str, default: str) -> float:
    raw = os.environ.get(name, default)
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (0 < value < 86400):
        raise ValueError(f"{name} must be a number of seconds above 0 (e.g. {default}), not {raw!r}")
    return value
