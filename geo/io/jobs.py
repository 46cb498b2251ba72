"""Imports run in the background for the web page, with their progress in the database.

Why: a county's household register or ledger takes from seconds to minutes to import; the
page must show a progress bar and stay responsive, and under gunicorn the poll that asks
"how far?" may reach another worker than the click that started it. So the import runs in
a thread of the worker that took the click, and writes its progress (throttled) to
`import_job` (migration 0041) on its own connection, outside the import's transaction.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from typing import Any, Callable

from geo import db

_EVERY = 0.3  # seconds between two progress writes


def start(username: str, layer: str, file_name: str, work: Callable[[Callable], Any], done: Callable | None = None) -> int:
    """Run `work(progress)` in a thread as job of `username`; returns the job id at once.

    `work` gets progress(message, fraction=None) and returns a JSON-ready result; an
    exception is stored as the job's error (its message, never a traceback, for the user).
    `done()` runs after the job, whatever happened (cleaning the upload, say)."""
    with db.system() as conn:
        job = db.scalar(
            conn,
            "INSERT INTO import_job (username, layer, file_name, message) VALUES (%s, %s, %s, %s) RETURNING id",
            (username, layer, file_name, "排队 queued"),
        )
    threading.Thread(target=_run, args=(job, work, done), name=f"import-job-{job}", daemon=True).start()
    return job


def _run(job: int, work: Callable, done: Callable | None) -> None:
    last = [0.0, 0.0]  # time of the last write, fraction reached

    def progress(message: str, fraction: float | None = None) -> None:
        if fraction is not None:
            last[1] = max(last[1], min(max(float(fraction), 0.0), 1.0))
        now = time.monotonic()
        if now - last[0] < _EVERY:
            return
        last[0] = now
        _write(job, message, last[1])

    try:
        result = work(progress)
        ok = True
    except Exception as exc:  # noqa: BLE001  (any failure is the job's result, shown to the user)
        result = {"error": str(exc) or type(exc).__name__}
        if not getattr(exc, "problems", None):
            traceback.print_exc()
        ok = False
    finally:
        if done is not None:
            done()
    with db.system() as conn:
        db.execute(
            conn,
            """UPDATE import_job SET finished_at = now(), updated_at = now(), ok = %s, result = %s,
                      fraction = CASE WHEN %s THEN 1 ELSE fraction END, message = %s WHERE id = %s""",
            (ok, json.dumps(result, ensure_ascii=False, default=str), ok, "完成 done" if ok else "失败 failed", job),
        )


def _write(job: int, message: str, fraction: float) -> None:
    with db.system() as conn:
        db.execute(
            conn,
            "UPDATE import_job SET message = %s, fraction = %s, updated_at = now() WHERE id = %s AND finished_at IS NULL",
            (message[:500], fraction, job),
        )


def get(job: int, username: str) -> dict | None:
    """One job of `username` (another account's job is None: ids are guessable)."""
    with db.system() as conn:
        return db.one(
            conn,
            """SELECT id, layer, file_name, fraction, message, started_at, finished_at, ok, result
                 FROM import_job WHERE id = %s AND username = %s""",
            (job, username),
        )
