"""The app as the benchmark serves it: gunicorn with the project's own configuration
(geo/web/gunicorn_conf.py, as `make serve` runs it) on a free loopback port against the
bench database, started and stopped around a measurement."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from geo import config

REPO = config.REPO_ROOT


class AppDidNotStart(RuntimeError):
    pass


@dataclass
class Served:
    base: str
    proc: subprocess.Popen
    workers: int
    threads: int
    log: Path

    def wait_warm(self, timeout: float = 180) -> float:
        """Wait until every worker has printed its screen warm-up line (geo.web.screen_warm);
        returns the seconds waited (bounded by `timeout`)."""
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            text = self.log.read_text(encoding="utf-8", errors="replace")
            if text.count("大屏缓存预热") + text.count("screen cache warm-up failed") >= self.workers:
                break
            time.sleep(0.5)
        return round(time.monotonic() - t, 1)

    def pids(self) -> list[int]:
        """The master and its worker processes (from /proc)."""
        try:
            kids = [int(c) for c in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        except OSError:
            kids = []
        return [self.proc.pid] + kids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(url: str, workers: int = 2, threads: int = 64, start_timeout: float = 180, **env_extra: str) -> Iterator[Served]:
    """gunicorn on 127.0.0.1 only, against `url`; stopped (and waited for) on exit."""
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=url,
        QUANYU_HOST="127.0.0.1",
        QUANYU_PORT=str(port),
        QUANYU_WORKERS=str(workers),
        QUANYU_THREADS=str(threads),
        **env_extra,
    )
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:geo.web.gunicorn_conf", "app:server"]
    # the server's log to a file, never a pipe nobody reads (a full pipe would stop the server)
    log = Path(tempfile.mkstemp(prefix="quanyu-bench-app-", suffix=".log")[1])
    err = log.open("w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with urllib.request.urlopen(base + "/login", timeout=5) as r:
                    r.read()
                break
            except urllib.error.HTTPError:  # it answers: it is up
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    why = log.read_text(encoding="utf-8", errors="replace")[-800:] if proc.poll() is not None else "timeout"
                    raise AppDidNotStart(f"app did not start: {why}") from None
                time.sleep(0.5)
        yield Served(base, proc, workers, threads, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        err.close()
        log.unlink(missing_ok=True)
