"""Alarm rules: their thresholds (data/alerts.toml, stored in `alert_config`) and the words
an alarm is shown with.

Why thresholds in a table: the evaluation runs in the database, in the transaction that
writes an incident, so it reads them there; why validated here: a missing key would make
the SQL compare against NULL and silently never fire, so a load must fail loudly, naming
the key. The texts are rendered from each alarm's `detail` with geo/labels.py, so the
database stores facts (counts, radius, sources), not sentences.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from geo import config, db
from geo.labels import t

DEFAULT_CONFIG = config.DATA_DIR / "alerts.toml"
# Rule kinds, in the order the desk lists them; each needs these keys besides enabled/level/ack_minutes.
RULES: dict[str, tuple[str, ...]] = {
    "high_incident": (),
    "grid_high": (),
    "cluster": ("count", "radius_m", "hours"),
    "crowd": ("people",),
    "joint": ("sources", "radius_m", "hours"),
    "repeat": ("count", "radius_m", "days"),
    "overdue_high": ("lookback_hours",),
    "forecast": ("top_share",),
}
LEVELS = (1, 2, 3, 4)  # 红 橙 黄 蓝


class AlertConfigError(ValueError):
    """The alarm configuration is incomplete or inconsistent (the message names the key)."""


def read_config(path: str | Path = DEFAULT_CONFIG) -> dict:
    path = Path(path)
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AlertConfigError(f"{path}: no such file (the defaults are in {DEFAULT_CONFIG})") from None
    except tomllib.TOMLDecodeError as exc:
        raise AlertConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        validate(cfg)
    except AlertConfigError as exc:
        raise AlertConfigError(f"{path}: {exc}") from None
    return cfg


def validate(cfg: dict) -> None:
    """Refuse a configuration the SQL rules would misread, naming the faulty key."""
    ev = cfg.get("evaluation")
    if not isinstance(ev, dict) or not _positive_int(ev.get("max_age_hours")):
        raise AlertConfigError("[evaluation] max_age_hours must be a positive whole number of hours")
    rules = cfg.get("rules")
    if not isinstance(rules, dict):
        raise AlertConfigError("[rules.*] sections missing (see data/alerts.toml)")
    unknown = sorted(set(rules) - set(RULES))
    if unknown:
        raise AlertConfigError(f"unknown rule(s) {', '.join(unknown)}; rules are {', '.join(RULES)}")
    for name, keys in RULES.items():
        rule = rules.get(name)
        if not isinstance(rule, dict):
            raise AlertConfigError(f"[rules.{name}] section missing (set enabled = false to switch it off)")
        if not isinstance(rule.get("enabled", True), bool):
            raise AlertConfigError(f"rules.{name}.enabled must be true or false")
        if rule.get("level") not in LEVELS:
            raise AlertConfigError(f"rules.{name}.level must be 1 (红), 2 (橙), 3 (黄) or 4 (蓝), not {rule.get('level')!r}")
        for key in ("ack_minutes", *keys):
            value = rule.get(key)
            ok = 0 < value <= 1 if key == "top_share" and isinstance(value, (int, float)) else _positive_int(value)
            if key == "radius_m":
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 10_000
            if not ok:
                raise AlertConfigError(f"rules.{name}.{key} missing or not a positive number ({value!r})")
    if rules["cluster"]["count"] < 2 or rules["repeat"]["count"] < 2 or rules["joint"]["sources"] < 2:
        raise AlertConfigError("rules.cluster.count, rules.repeat.count and rules.joint.sources must be at least 2")


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def store_config(conn, cfg: dict, source: str = "") -> None:
    """Make `cfg` the active configuration (alarms already raised keep their level)."""
    validate(cfg)
    with db.transaction(conn) as cur:
        cur.execute(
            """INSERT INTO alert_config (id, config, source) VALUES (1, %s, %s)
               ON CONFLICT (id) DO UPDATE SET config = EXCLUDED.config, source = EXCLUDED.source, loaded_at = now()""",
            (json.dumps(cfg, ensure_ascii=False), source),
        )


def load_config(conn, path: str | Path = DEFAULT_CONFIG) -> dict:
    cfg = read_config(path)
    store_config(conn, cfg, source=str(path))
    return cfg


def active_config(conn) -> dict | None:
    return db.scalar(conn, "SELECT config FROM alert_config WHERE id = 1")


def ensure_config(conn) -> None:
    """Load data/alerts.toml when no configuration is active (a fresh database)."""
    if active_config(conn) is None:
        load_config(conn)


# --------------------------------------------------------------------------- words


def level_name(level: int) -> str:
    return t(f"alert.level.{level}")


def title(alert: dict) -> str:
    """What happened, in one line: '联合预警：楼道堆物（2个来源）'."""
    d = alert.get("detail") or {}
    return t(f"alert.title.{alert['rule']}", subject=alert["subject"], **_fmt(d))


def reasons(alert: dict) -> list[str]:
    """Why the rule fired, in plain Chinese, one line per fact."""
    d = alert.get("detail") or {}
    out = [t(f"alert.why.{alert['rule']}", **_fmt(d))]
    out += [str(r) for r in d.get("reasons") or []]
    if alert.get("escalations"):
        out.append(t("alert.why.escalated", n=alert["escalations"]))
    return out


def _fmt(d: dict) -> dict:
    sources = d.get("sources") or []
    deadline = d.get("deadline")
    return {
        "count": d.get("count", ""),
        "threshold": d.get("threshold", ""),
        "radius": _number(d.get("radius_m")),
        "hours": d.get("hours", ""),
        "days": d.get("days", ""),
        "people": d.get("people", ""),
        "major": d.get("major", ""),
        "sources": "、".join(t(f"source.{s}") for s in sources),
        "n_sources": len(sources),
        "score": d.get("score", ""),
        "from_tier": t(f"tier.{d['from']}") if d.get("from") else "",
        "deadline": str(deadline)[:16].replace("T", " ") if deadline else "",
        "expected": d.get("expected", ""),
        "previous": d.get("previous", ""),
        "share": f"{float(d.get('share') or 0) * 100:g}%",
    }


def _number(x) -> str:
    if x is None:
        return ""
    return f"{x:g}" if isinstance(x, float) else str(x)
