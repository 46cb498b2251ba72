"""全域 Quanyu: the Dash app (command-center big screen and the other pages).

`python app.py` serves it on QUANYU_HOST:QUANYU_PORT (127.0.0.1:8050 by default); under
gunicorn, `gunicorn app:server`. Pages are the modules of `geo/web/pages/` (each registers
itself with Dash when imported), endpoints the modules of `geo/web/api/` (each exposes a
Flask blueprint `bp`); adding one is adding a module. Everything the page needs (scripts, styles, the map
library) is served from this server: it works on an intranet with no internet at all.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

import dash

from geo import config, web
from geo.labels import t


def create_app() -> dash.Dash:
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        title=t("app.title"),
        update_title=None,
        serve_locally=True,
        suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    for info in pkgutil.walk_packages(web.__path__, prefix=f"{web.__name__}."):
        module = importlib.import_module(info.name)
        if hasattr(module, "bp"):
            app.server.register_blueprint(module.bp)
    app.layout = dash.html.Div([dash.page_container])
    # No request body beyond this (a photo or an Excel file arrives base64 in a callback):
    # werkzeug answers 413 before anything reads it.
    app.server.config["MAX_CONTENT_LENGTH"] = int(float(os.environ.get("QUANYU_MAX_REQUEST_MB", "64")) * 1024 * 1024)
    return app


app = create_app()
server = app.server

if __name__ == "__main__":
    s = config.settings()
    print(f"全域 Quanyu: http://{s.host}:{s.port}/")
    app.run(host=s.host, port=s.port, debug=False)
