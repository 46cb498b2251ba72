"""How `make demo`, `make serve` and `make serve-prod` serve the app: gunicorn, threads, quiet.

Why gunicorn with threads (issue #17): Flask's development server prints a red warning to
every new user and is one process; gunicorn's gthread workers are processes that each
serve QUANYU_THREADS (64) requests at once (a wall screen's tiles arrive six at a time, and
each open big screen holds one thread with its push stream, /api/live), while each
process's database pool (QUANYU_POOL_SIZE, 8) queues them for connections instead of
failing. Quiet: gunicorn logs only warnings and errors, no access log; the one line a new
user needs (where to open it) is printed when the server is ready.

Used as `python -m gunicorn -c python:geo.web.gunicorn_conf app:server`; every setting
comes from the environment (QUANYU_HOST, QUANYU_PORT, QUANYU_WORKERS, QUANYU_THREADS,
QUANYU_LOG_LEVEL), so the Makefile and the benchmark start the same server.
"""

from __future__ import annotations

import os
import sys

host = os.environ.get("QUANYU_HOST", "127.0.0.1")
port = int(os.environ.get("QUANYU_PORT", "8050"))
bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
workers = max(1, int(os.environ.get("QUANYU_WORKERS", "2")))
worker_class = "gthread"
threads = max(1, int(os.environ.get("QUANYU_THREADS", "64")))
# A worker whose request runs longer than this is restarted; coverage of a city runs ~5 s,
# an export of a whole jurisdiction can take a minute.
timeout = int(os.environ.get("QUANYU_REQUEST_TIMEOUT", "300"))
graceful_timeout = 20
keepalive = 5
loglevel = os.environ.get("QUANYU_LOG_LEVEL", "warning")
accesslog = None
proc_name = "quanyu"


def when_ready(server) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(
        f"全域 Quanyu: http://{shown}:{port}/  (gunicorn, {workers} 个进程 × {threads} 线程 workers × threads; Ctrl+C 停止 stop)",
        file=sys.stderr,
        flush=True,
    )
