"""The `history` section of the benchmark: a back catalogue of closed months loaded with
`import incidents FILE --history` (geo.io.history), in rows per second end to end.

The file is a clerk's CSV like the import section's (Chinese headers), spread over `months`
closed months before the current one plus a few rows of the current month (which go the
normal way), with 工单编号 and some unknown risk factors, so that every step of the load runs.
The rows it adds are removed afterwards: their months are detached and dropped, keys,
history rows and aggregates with them (the month tables are the load's own).
"""

from __future__ import annotations

import csv
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from geo import db
from geo.worktime import CST

PROBE_TITLE = "bench-history-probe"
HEADERS = ["工单编号", "经度", "纬度", "事件类别", "上报时间", "标题", "涉事人数", "持续天数", "冲突程度", "行为风险", "状态"]
INTENSITY = ("平稳", "一般", "较激烈", "激烈")


def write_csv(
    path: Path, pts: np.ndarray, minor_codes: list[str], months: int, seed: int = 17, prefix: str = "H", before=None
) -> None:
    """len(pts) incidents: 98% spread over the `months` closed months ending at `before` (the
    first day of a month; default the current month), 2% in the current month; one in five
    has an unknown conflict intensity (empty cell), assessed from its context (0040)."""
    rng = np.random.default_rng(seed)
    now = datetime.now(CST).replace(microsecond=0)
    month_start = now.replace(day=1, hour=0, minute=0, second=0)
    end = before or month_start
    first = end
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    span = (end - first).total_seconds()
    n = len(pts)
    cats = rng.choice(minor_codes, n)
    current = rng.random(n) < 0.02
    offsets = rng.uniform(0, span - 1, n)
    recent = rng.uniform(0, max(1.0, (now - month_start).total_seconds() - 60), n)
    people = rng.integers(1, 9, n)
    days = rng.integers(0, 30, n)
    conflict = rng.integers(0, 4, n)
    behaviour = rng.integers(0, 4, n)
    unknown = rng.random(n) < 0.2
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        for i in range(n):
            at = month_start + timedelta(seconds=float(recent[i])) if current[i] else first + timedelta(seconds=float(offsets[i]))
            w.writerow(
                [
                    f"{prefix}{i:08d}",
                    f"{pts[i, 0]:.7f}",
                    f"{pts[i, 1]:.7f}",
                    cats[i],
                    at.strftime("%Y-%m-%d %H:%M:%S"),
                    PROBE_TITLE,
                    int(people[i]),
                    int(days[i]),
                    "" if unknown[i] else INTENSITY[conflict[i]],
                    int(behaviour[i]),
                    "结案",
                ]
            )


def run(conn, rows: int, months: int = 24) -> dict:
    """Load `rows` incidents over `months` closed months with --history; rows/s end to end
    (read, check, locate, stage, copy, index, attach, aggregate), then remove them."""
    from geo.bench import measure as m
    from geo.io import importer

    minor = [r["minor_code"] for r in db.rows(conn, "SELECT minor_code FROM category ORDER BY 1")]
    pts = m.sample_points(conn, rows)
    with tempfile.TemporaryDirectory(prefix="quanyu-bench-history-") as tmp:
        path = Path(tmp) / "history.csv"
        write_csv(path, pts, minor, months)
        marks: list[tuple[float, str]] = []
        t = time.perf_counter()
        result = importer.import_file(
            conn, "incidents", path, history=True, progress=lambda msg, f=None: marks.append((time.perf_counter() - t, msg))
        )
        s = time.perf_counter() - t
    out = {
        "rows": result.rows,
        "months": months,
        "seconds": round(s, 2),
        "rows_per_s": round(result.rows / s, 1),
        "stage_seconds": m._stages(marks, s),
        "notes": result.notes[-1:],
    }
    remove(conn, result.batch)
    return out


def remove(conn, batch: int) -> None:
    """Undo the bench's load: the import's own undo (geo.io.batches) deletes its rows
    through the root, so aggregates and keys follow; the month tables it made stay, empty."""
    from geo.io import batches

    batches.undo(conn, batch, "bench")
