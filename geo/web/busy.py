"""503 + Retry-After when the database pool stays busy (issue #17).

geo.db's pool makes a request wait for a connection; when the wait passes it raises
db.PoolBusy. This answers that with 503 Service Unavailable and a Retry-After header
instead of a 500: the big screen's next poll retries by itself, a script can honour the
header, and a person sees a page saying to try again in a few seconds (it reloads itself).
"""

from __future__ import annotations

import html

import flask

from geo import db
from geo.labels import t

bp = flask.Blueprint("busy", __name__)


@bp.app_errorhandler(db.PoolBusy)
def busy(exc: db.PoolBusy):
    seconds = exc.retry_after
    message = t("server.busy", seconds=seconds)
    req = flask.request
    if req.method == "GET" and "text/html" in req.headers.get("Accept", ""):
        body = (
            f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="{seconds}"><title>{html.escape(message)}</title>'
            f'<link rel="stylesheet" href="/assets/login.css"></head><body class="login-body">'
            f'<main class="login-card"><h1>{html.escape(message)}</h1></main></body></html>'
        )
        resp = flask.make_response(body, 503)
    else:
        resp = flask.make_response(flask.jsonify({"error": "busy", "message": message, "retry_after": seconds}), 503)
    resp.headers["Retry-After"] = str(seconds)
    resp.headers["Cache-Control"] = "no-store"
    return resp
