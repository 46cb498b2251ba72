"""`python -m geo doctor [--install] [--browser]`: check, and when root install, what the
project needs from the operating system.

Python packages come from pip or conda; the rest is the system's: PostgreSQL with PostGIS
for the embedded database, a CJK font (fonts-noto-cjk: the server makes the maps' label
glyphs from it, and without it every Chinese label in a browser is a row of boxes), and for
the browser tests and screenshots Debian's Chromium and its driver.
"""

from __future__ import annotations

import shutil
import subprocess

HELP = "检查/安装系统依赖 (check or install PostGIS, Chromium, CJK fonts)"

SERVER_PACKAGES = {  # Debian package: how we know it is there
    "fonts-noto-cjk": lambda: _has_cjk_font(),
}
BROWSER_PACKAGES = {
    "chromium": lambda: shutil.which("chromium") or shutil.which("chromium-browser"),
    "chromium-driver": lambda: shutil.which("chromedriver"),
}


def add_arguments(p):
    p.add_argument("--install", action="store_true", help="install what is missing (apt-get, as root)")
    p.add_argument("--browser", action="store_true", help="also Chromium and ChromeDriver (browser tests, PDF reports)")


def _has_cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    out = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    return bool(out.strip())


def run(args) -> int:
    import os

    from geo import pgserver as cluster

    if os.environ.get("DATABASE_URL") and os.environ.get("TEST_DATABASE_URL"):
        print("数据库 database: DATABASE_URL and TEST_DATABASE_URL are set; the embedded cluster is not needed")
    elif args.install:
        print(f"PostGIS: {cluster.ensure_postgis()}")
    else:
        print(f"PostGIS: {'ok' if cluster.status().get('postgis_available') else 'missing'}")
    packages = {**SERVER_PACKAGES, **(BROWSER_PACKAGES if args.browser else {})}
    for package, present in packages.items():
        if present():
            print(f"{package}: ok")
        elif args.install and cluster.can_apt():
            cluster.apt_install(package)
        else:
            print(f"{package}: missing (Debian: apt-get install {package})")
    return 0
