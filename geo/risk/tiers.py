"""Risk tiers (风险分级 高/中/低): configuration, recomputation and the views built on them.

The scoring runs in SQL (migration 0004_risk.sql) so that every source of incidents gets a
tier from a trigger; this module is the Python side: it validates and loads the weights
of data/risk.toml into `risk_config`, recomputes tiers after a configuration change or as
time passes (grid scores decay with age), and reads tiers, reasons and the key list for
the CLI, the screens and the reports.
"""

from __future__ import annotations

import csv
import json
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from geo import config, db

DEFAULT_CONFIG = config.DATA_DIR / "risk.toml"
TIERS = ("high", "medium", "low")
# Grid factors in the order a grid explains itself (grid_risk.factors keys).
GRID_FACTORS = ("incidents", "key_list", "key_persons", "dangerous", "sensitive", "density")

_INCIDENT_KEYS = {
    "high",
    "medium",
    "people",
    "duration",
    "intensity",
    "intensity_labels",
    "behaviour",
    "behaviour_labels",
    "severity",
    "escalated",
    "returned",
    "per_return",
    "max_returns",
    "unknown_high",
    "unknown_medium",
    "context_days",
    "repeat_metres",
    "repeats",
    "grid_recent",
    "words",
}
# What a word of data/risk_words.csv may stand for, with the values its factor takes.
WORD_FACTORS = {"people": (1, 1_000_000), "duration": (1, 36_500), "intensity": (1, 3), "behaviour": (1, 3)}
_GRID_KEYS = {
    "mode",
    "high",
    "medium",
    "high_share",
    "medium_share",
    "window_days",
    "half_life_days",
    "tier_weight",
    "incident_points",
    "incident_cap",
    "key_list_points",
    "key_list_cap",
    "key_person_weight",
    "key_person_points",
    "key_person_cap",
    "dangerous_points",
    "dangerous_cap",
    "sensitive_points",
    "sensitive_cap",
    "density",
}


class RiskConfigError(ValueError):
    """The risk configuration is incomplete or inconsistent (the message says where)."""


def read_config(path: str | Path = DEFAULT_CONFIG) -> dict:
    """The configuration of a TOML file, validated (RiskConfigError when it is not usable)."""
    path = Path(path)
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RiskConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RiskConfigError(f"{path}: not valid TOML ({exc})") from None
    words = cfg.get("incident", {}).get("words")
    if isinstance(words, str):
        cfg["incident"]["words"] = read_words(path.parent / words)
    validate(cfg)
    return cfg


def read_words(path: str | Path) -> list[list]:
    """The escalation words of a CSV (word, factor, value[, note]) as [word, factor, value] lists.

    Why a CSV beside risk.toml: the list is the part a center extends most (local wordings
    of 群体, 讨薪 …), and a spreadsheet is where its staff keep such lists.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise RiskConfigError(f"{path}: no such file (incident.words names the escalation word list)") from None
    words = []
    for n, r in enumerate(rows, start=2):
        word, factor = (r.get("word") or "").strip(), (r.get("factor") or "").strip()
        try:
            value = float(r.get("value") or "")
        except ValueError:
            raise RiskConfigError(f"{path}, row {n}: value {r.get('value')!r} is not a number") from None
        words.append([word, factor, int(value) if value.is_integer() else value])
    try:
        _check_words(words)
    except RiskConfigError as exc:
        raise RiskConfigError(f"{path}: {exc}") from None
    return words


def _check_words(words: Any) -> None:
    if not isinstance(words, list):
        raise RiskConfigError("incident.words must be the word list (read_config reads the CSV it names)")
    for n, w in enumerate(words, start=1):
        if not (isinstance(w, list) and len(w) == 3 and isinstance(w[0], str) and w[0]):
            raise RiskConfigError(f"word {n}: needs a word, a factor and a value, got {w!r}")
        if w[1] not in WORD_FACTORS:
            raise RiskConfigError(f"word {n} ({w[0]}): factor {w[1]!r} is not one of {', '.join(WORD_FACTORS)}")
        lo, hi = WORD_FACTORS[w[1]]
        if not (isinstance(w[2], (int, float)) and lo <= w[2] <= hi):
            raise RiskConfigError(f"word {n} ({w[0]}): value {w[2]!r} outside {lo}-{hi} for {w[1]}")


def validate(cfg: dict) -> None:
    """Refuse a configuration the SQL scoring would misread, naming the faulty key.

    Why here and not in SQL: a missing key in SQL silently scores 0 points, which would
    quietly lower every tier; a load must fail loudly instead.
    """
    for part, keys in (("incident", _INCIDENT_KEYS), ("grid", _GRID_KEYS)):
        section = cfg.get(part)
        if not isinstance(section, dict):
            raise RiskConfigError(f"[{part}] section missing")
        missing = sorted(keys - set(section))
        if missing:
            raise RiskConfigError(f"[{part}] missing keys: {', '.join(missing)}")
        if not 0 <= section["medium"] <= section["high"]:
            raise RiskConfigError(f"[{part}] needs 0 <= medium <= high, got medium={section['medium']} high={section['high']}")
    inc, grid = cfg["incident"], cfg["grid"]
    for key in ("people", "duration", "repeats", "grid_recent"):
        _check_bands(f"incident.{key}", inc[key])
    _check_words(inc["words"])
    if not 0 <= inc["unknown_medium"] <= inc["unknown_high"]:
        raise RiskConfigError("[incident] needs 0 <= unknown_medium <= unknown_high")
    if inc["context_days"] <= 0 or inc["repeat_metres"] < 0:
        raise RiskConfigError("incident.context_days must be positive and incident.repeat_metres not negative")
    _check_bands("grid.density", grid["density"])
    for key, n in (("intensity", 4), ("intensity_labels", 4), ("behaviour", 4), ("behaviour_labels", 4), ("severity", 5)):
        if not isinstance(inc[key], list) or len(inc[key]) != n:
            raise RiskConfigError(f"incident.{key} must list {n} values (levels {'1-5' if n == 5 else '0-3'})")
    if grid["mode"] not in ("absolute", "quantile"):
        raise RiskConfigError(f"grid.mode must be 'absolute' or 'quantile', got {grid['mode']!r}")
    if not 0 < grid["high_share"] + grid["medium_share"] < 1:
        raise RiskConfigError("grid.high_share + grid.medium_share must lie between 0 and 1")
    if grid["half_life_days"] <= 0 or grid["window_days"] <= 0:
        raise RiskConfigError("grid.half_life_days and grid.window_days must be positive")
    if set(grid["tier_weight"]) != set(TIERS):
        raise RiskConfigError("grid.tier_weight needs exactly high, medium and low")
    if set(grid["key_person_weight"]) != {"1", "2", "3"}:
        raise RiskConfigError("grid.key_person_weight needs tiers 1, 2 and 3")


def _check_bands(name: str, bands: Any) -> None:
    ok = isinstance(bands, list) and all(isinstance(b, list) and len(b) == 2 for b in bands)
    if not ok or [b[0] for b in bands] != sorted(b[0] for b in bands):
        raise RiskConfigError(f"{name} must be [minimum, points] pairs in ascending order of minimum")


def store_config(conn, cfg: dict, source: str = "") -> dict:
    """Make `cfg` the active configuration and recompute every incident and grid tier.

    One transaction: screens never see new incident tiers with old grid tiers.
    Returns what changed: {"incidents": rows re-tiered, "grids": grids recomputed}.
    """
    validate(cfg)
    with db.transaction(conn) as cur:
        cur.execute("SET LOCAL quanyu.risk_defer = 'on'")  # grids are recomputed once, below
        cur.execute(
            """INSERT INTO risk_config (id, config, source) VALUES (1, %s, %s)
               ON CONFLICT (id) DO UPDATE SET config = EXCLUDED.config, source = EXCLUDED.source, loaded_at = now()""",
            (json.dumps(cfg, ensure_ascii=False), source),
        )
        cur.execute("SELECT risk_recompute_incidents()")
        incidents = cur.fetchone()[0]
        cur.execute("SELECT risk_recompute_grids(NULL, now())")
        grids = cur.fetchone()[0]
    return {"incidents": incidents, "grids": grids}


def load_config(conn, path: str | Path = DEFAULT_CONFIG) -> dict:
    """Read a TOML file and make it the active configuration (see store_config)."""
    return store_config(conn, read_config(path), source=str(path))


def active_config(conn) -> dict | None:
    return db.scalar(conn, "SELECT config FROM risk_config WHERE id = 1")


def ensure_config(conn) -> None:
    """Load data/risk.toml when no configuration is active (a fresh database)."""
    if active_config(conn) is None:
        load_config(conn)


def recompute_grids(conn, grid_codes: list[str] | None = None, as_of: datetime | None = None) -> int:
    """Recompute grid tiers: all grids (grid_codes None) or only those given.

    Scores decay with the age of incidents, so the full recompute also belongs in a daily
    job; incident writes already recompute their grids through a trigger. `as_of` (default
    now) evaluates the decay at another time, for tests and "what will age out" questions.
    """
    ensure_config(conn)
    with db.transaction(conn) as cur:
        cur.execute("SELECT risk_recompute_grids(%s, COALESCE(%s, now()))", (grid_codes, as_of))
        return cur.fetchone()[0]


def recompute_incidents(conn) -> int:
    """Every incident's tier again from the active configuration; returns rows changed."""
    ensure_config(conn)
    with db.transaction(conn) as cur:
        cur.execute("SELECT risk_recompute_incidents()")
        return cur.fetchone()[0]


# --------------------------------------------------------------------------- reading


def grid_tiers(conn, town_code: str | None = None, tier: str | None = None) -> list[dict]:
    """Tier, score, factors and reasons of every current grid (highest score first)."""
    return db.rows(
        conn,
        """SELECT r.grid_code, r.grid_name, r.admin_code, r.town_code, c.name AS community_name, r.score, r.tier,
                  r.factors, r.reasons, r.as_of
             FROM grid_risk_current r LEFT JOIN admin_unit c ON c.code = r.admin_code
            WHERE (%(town)s::text IS NULL OR r.town_code = %(town)s)
              AND (%(tier)s::text IS NULL OR r.tier = %(tier)s)
            ORDER BY r.score DESC NULLS LAST, r.grid_code""",
        {"town": town_code, "tier": tier},
    )


def grid_risk(conn, grid_code: str) -> dict | None:
    """One grid's tier with its factors, for the drill-down ("why is this grid high?")."""
    return db.one(conn, "SELECT * FROM grid_risk_current WHERE grid_code = %s", (grid_code,))


def summary(conn, top: int = 10) -> dict:
    """Counts of grids and incidents by tier, the top grids and the key-list size."""
    grids = {
        r["tier"] or "none": r["n"] for r in db.rows(conn, "SELECT tier, count(*) AS n FROM grid_risk_current GROUP BY tier")
    }
    incidents = {
        r["tier"] or "none": r["n"]
        for r in db.rows(conn, "SELECT risk_tier AS tier, count(*) AS n FROM incident GROUP BY risk_tier")
    }
    total = sum(grids.values()) or 1
    return {
        "grids": {t: grids.get(t, 0) for t in (*TIERS, "none")},
        "grid_share": {t: round(grids.get(t, 0) / total, 4) for t in TIERS},
        "incidents": {t: incidents.get(t, 0) for t in (*TIERS, "none")},
        "key_list": db.scalar(conn, "SELECT count(*) FROM key_list"),
        "as_of": db.scalar(conn, "SELECT max(as_of) FROM grid_risk"),
        "top": [
            {k: r[k] for k in ("grid_code", "grid_name", "community_name", "score", "tier", "reasons")}
            for r in grid_tiers(conn)[:top]
        ],
    }


def key_list(conn, town_code: str | None = None) -> list[dict]:
    """重点清单: unresolved high-tier incidents with owner, deadline and days open (oldest first)."""
    return db.rows(
        conn,
        """SELECT * FROM key_list WHERE (%(town)s::text IS NULL OR town_code = %(town)s)
            ORDER BY days_open DESC, id""",
        {"town": town_code},
    )
