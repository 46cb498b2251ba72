"""Sign-in, sign-out, and the guard in front of every request.

The guard runs before any page, callback, tile or API: it finds the session from the
cookie, refuses anonymous requests (the sign-in page for a browser, 401 for a script),
checks the CSRF token on every state-changing request, checks the permission the path or
Dash callback needs (geo.security.access), and sets the request's scope so that every pooled
connection the request borrows runs as the account's database role inside its unit
(geo.db.pooled). Open311's reads are public by the standard and run as `quanyu_public`
over the whole jurisdiction; its POST has its own API keys.

CSRF: the session's token is also sent as the `_csrf_token` cookie, which Dash's renderer
already copies into an `X-CSRFToken` header on every callback; forms carry it as a field.
"""

from __future__ import annotations

import html as html_escape
import json
import os
import secrets
from urllib.parse import urlsplit

import flask
import psycopg2.errors

from geo import config, db, firstrun
from geo.labels import t
from geo.security import access, accounts, session_cache
from geo.web import callback_guard

bp = flask.Blueprint("auth", __name__)

SESSION_COOKIE = "quanyu_session"
CSRF_COOKIE = "_csrf_token"
LOGIN_CSRF_COOKIE = "_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login", "/welcome", "/assets/login.css", "/favicon.ico", "/_favicon.ico"})
OPEN311_PREFIX = "/open311/v2"


def _secure_cookies() -> bool:
    return os.environ.get("QUANYU_SECURE_COOKIES", "") in ("1", "true", "yes")


def _client_ip() -> str | None:
    # Behind a reverse proxy set QUANYU_TRUST_PROXY=1 and let it send X-Forwarded-For.
    if os.environ.get("QUANYU_TRUST_PROXY") in ("1", "true", "yes"):
        forwarded = flask.request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return flask.request.remote_addr


def _jurisdiction_code() -> str | None:
    cached = flask.current_app.config.get("QUANYU_JURISDICTION_CODE")
    if cached:
        return cached
    with db.system() as conn:
        code = db.scalar(conn, "SELECT code FROM jurisdiction ORDER BY code LIMIT 1")
    if code:
        flask.current_app.config["QUANYU_JURISDICTION_CODE"] = code
    return code


def _accounts_exist() -> bool:
    """Whether any account exists (asked only for anonymous page loads, which are few)."""
    with db.system() as conn:
        return firstrun.has_accounts(conn)


def _wants_html() -> bool:
    req = flask.request
    return req.method == "GET" and not req.path.startswith(("/api/", "/tiles/", "/_dash", "/reports/", "/uploads/"))


@bp.before_app_request
def guard():
    db.set_scope(None)
    req = flask.request
    path = req.path
    if path in PUBLIC_PATHS:
        return None
    if path.startswith(OPEN311_PREFIX):
        code = _jurisdiction_code()
        if not code:
            return flask.jsonify([{"code": 503, "description": "no jurisdiction loaded"}]), 503
        db.set_scope(
            access.Scope(
                username="open311", role=access.PUBLIC_ROLE, admin_code=code, ip=_client_ip(), timeout_ms=statement_timeout(path)
            )
        )
        return None
    sess = session_cache.lookup(req.cookies.get(SESSION_COOKIE))  # no database round trip when cached
    if sess is None:
        if _wants_html():
            if not _accounts_exist():  # a new installation: say what to do first (geo/web/welcome.py)
                return flask.redirect("/welcome")
            return flask.redirect(flask.url_for("auth.login", next=_safe_next(req.full_path)))
        return flask.jsonify({"error": "sign-in required", "message": t("auth.required")}), 401
    scope = access.Scope(
        username=sess.scope.username,
        role=sess.scope.role,
        admin_code=sess.scope.admin_code,
        ip=_client_ip(),
        timeout_ms=statement_timeout(path),
    )
    flask.g.session = sess
    if req.method not in SAFE_METHODS:
        sent = req.headers.get("X-CSRFToken") or req.form.get("csrf_token")
        if not sent or not secrets.compare_digest(sent, sess.csrf_token):
            return flask.jsonify({"error": "csrf", "message": t("auth.csrf")}), 403
    try:
        permissions = _permissions(req)
    except BadRequest as bad:
        flask.current_app.logger.warning("refused %s %s: %s", req.method, path, bad)
        return flask.jsonify({"error": "bad request", "message": str(bad)}), 400
    needed = next((p for p in sorted(permissions) if not scope.can(p)), None)
    if needed:
        with db.system() as conn:
            accounts.audit_denied(conn, scope, path, needed)
        if _wants_html():
            return _denied_page(needed), 403
        return flask.jsonify({"error": "forbidden", "permission": needed, "message": t("auth.forbidden")}), 403
    call = flask.g.pop("callback_call", None)
    if call is not None:
        try:
            callback_guard.check(*call)
        except callback_guard.Malformed as bad:
            flask.current_app.logger.warning("refused %s %s: %s", req.method, path, bad)
            return flask.jsonify({"error": "bad request", "message": str(bad)}), 400
    db.set_scope(scope)
    return None


# The longest one statement of a request may run, by request class (seconds; environment
# QUANYU_STATEMENT_TIMEOUT_<CLASS> overrides): anonymous reads least, printed reports most.
STATEMENT_TIMEOUTS = (
    (OPEN311_PREFIX, "OPEN311", 5),
    ("/tiles/", "TILES", config.TILE_TIMEOUT_S),  # geo.tiles sets the same on each tile's transaction
    ("/reports/", "REPORTS", 60),
    ("", "DEFAULT", 30),  # APIs, pages and Dash callbacks
)


def statement_timeout(path: str) -> int:
    """The statement timeout (ms) of a request to `path`."""
    prefix, name, seconds = next(entry for entry in STATEMENT_TIMEOUTS if path.startswith(entry[0]))
    return int(float(os.environ.get(f"QUANYU_STATEMENT_TIMEOUT_{name}", seconds)) * 1000)


@bp.app_errorhandler(psycopg2.errors.QueryCanceled)
def _too_long(exc):
    """A statement that hit the request's timeout: 503 with what to do, not a 500."""
    flask.current_app.logger.warning("statement timeout on %s %s: %s", flask.request.method, flask.request.path, exc)
    message = "查询超时：请缩小时间范围或区域后重试 (the query took too long: narrow the window or the area and try again)"
    return flask.jsonify({"error": "timeout", "message": message}), 503


@bp.teardown_app_request
def _clear_scope(_exc=None):
    db.set_scope(None)


@bp.after_app_request
def _headers(response: flask.Response) -> flask.Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Images only from this site (and the data:/blob: URLs plotly and the map make): no page can
    # make an operator's browser fetch a URL an outsider chose (issue #18, finding 6).
    response.headers.setdefault("Content-Security-Policy", "img-src 'self' data: blob:")
    if flask.request.path.startswith(("/api/", "/_dash-update-component", "/reports/", "/uploads/")):
        response.headers.setdefault("Cache-Control", "private, no-store")
    return response


class BadRequest(ValueError):
    """A request the guard cannot even classify (unknown callback, pathname that is no path): 400."""


API_PREFIXES = ("/api/", "/tiles/", "/reports/", "/uploads/", "/open311/")
MAX_PATHNAME = 2048


def _permissions(req) -> frozenset[str]:
    """What the request needs: by page, by endpoint, or by the callback it calls."""
    path = req.path
    if path == "/_dash-update-component":
        try:
            body = json.loads(req.get_data(cache=True) or b"{}")
        except (ValueError, RecursionError):
            raise BadRequest("the callback request is not JSON (or nests too deeply)") from None
        if not isinstance(body, dict):
            raise BadRequest("the callback request is not a JSON object")
        if callback_guard.depth(body) > callback_guard.MAX_DEPTH:
            raise BadRequest(f"the callback request nests deeper than {callback_guard.MAX_DEPTH} levels")
        return _callback_permissions(body)
    if path.startswith(("/_dash", "/assets/", "/_reload")):
        return frozenset({access.VIEW})
    if not path.startswith(API_PREFIXES):
        entry = page_entry(path)
        if entry is not None:
            return frozenset({access.entry_permission(entry)})
    return frozenset({access.endpoint_permission(path)})


def page_entry(pathname) -> dict | None:
    """The page-registry entry Dash renders for `pathname`, or None (its 404 page).

    The one place a path becomes a page: Dash's own matching (strip the slashes, compare with
    each registered path and template), so //users, /users/ and /users// are /users here
    exactly as they are for Dash's router, and a spelling Dash does not render
    (/./users, /USERS) is not a page here either."""
    import dash
    from dash._pages import _path_to_page

    if not isinstance(pathname, str) or not pathname.startswith("/") or len(pathname) > MAX_PATHNAME:
        raise BadRequest("pathname must be a path on this site starting with /")
    page, _ = _path_to_page(dash.get_app().strip_relative_path(pathname))
    return page or None


def _page_of_module(module: str) -> dict | None:
    return next((p for p in _dash_pages() if p["module"] == module), None)


def _callback_permissions(body: dict) -> frozenset[str]:
    """A callback needs its page's permission (the page module that defined it), what it is
    marked with (access.requires), what the components it writes need, and, for Dash's page
    router, the permission of the page it is about to render."""
    import dash

    output = body.get("output")
    entry = dash.get_app().callback_map.get(output) if isinstance(output, str) else None
    func = entry.get("callback") if entry else None
    if func is None:
        raise BadRequest(f"no such callback: {str(output)[:80]!r}")
    flask.g.callback_call = (body, entry)  # its shape is checked once the caller may call it at all
    needed = set(access.callback_permissions(_ids(body.get("outputs"))))
    needed |= getattr(func, "required_permissions", frozenset())
    page = _page_of_module(getattr(func, "__module__", ""))
    if page is not None:
        needed.add(access.entry_permission(page))
    pathname = _pages_pathname(body)
    if pathname is not _NOT_ROUTING:
        entry = page_entry(pathname) if pathname is not None else None  # None: Dash renders its 404 page
        needed.add(access.entry_permission(entry) if entry else access.VIEW)
    return frozenset(needed)


def _dash_pages() -> list[dict]:
    import dash

    return list(dash.page_registry.values())


def _ids(outputs) -> list[str]:
    if isinstance(outputs, dict):
        outputs = [outputs]
    if not isinstance(outputs, list):
        return []
    ids = []
    for o in outputs:
        if isinstance(o, list):
            ids += _ids(o)
        elif isinstance(o, dict):
            ident = o.get("id")
            ids.append(ident.get("type", "") if isinstance(ident, dict) else str(ident or ""))
    return ids


def _pages_pathname(body: dict):
    """The path a Dash page-routing callback is about to render, if this is one."""

    def walk(x):
        if isinstance(x, dict):
            if x.get("id") == "_pages_location" and x.get("property") == "pathname":
                yield x.get("value")
            for v in x.values():
                yield from walk(v)
        elif isinstance(x, list):
            for v in x:
                yield from walk(v)

    return next(walk(body.get("inputs")), _NOT_ROUTING)


_NOT_ROUTING = object()


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a sign-in link must not forward to another host (issue #18, 3).

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/", a tab,
    "/evil.example" and "/", a backslash, "evil.example" both mean //evil.example to them: anything
    with a control character, whitespace, a backslash, a scheme or a host, or that starts with two
    slashes, is refused and the user lands on the home page."""
    if not isinstance(target, str) or not target.startswith("/") or len(target) > MAX_PATHNAME:
        return "/"
    if any(ch in target for ch in "\\\x7f") or any(ch.isspace() or ord(ch) < 0x20 for ch in target):
        return "/"
    if target.startswith("//"):
        return "/"
    try:
        parts = urlsplit(target)
    except ValueError:  # "/[" and the like: not a URL a browser would follow anywhere good
        return "/"
    if parts.scheme or parts.netloc:
        return "/"
    return target.rstrip("?") or "/"


# --------------------------------------------------------------------------- pages


def _page(title: str, body: str) -> str:
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html_escape.escape(title)}</title>
<link rel="stylesheet" href="/assets/login.css"></head><body class="login-body">{body}</body></html>"""


def _login_form(message: str = "", username: str = "", next_path: str = "/", csrf: str = "") -> str:
    e = html_escape.escape
    error = f'<p class="login-error" role="alert">{e(message)}</p>' if message else ""
    return _page(
        t("auth.title"),
        f"""
<main class="login-card">
  <h1>{e(t("app.title"))}</h1>
  <h2>{e(t("auth.title"))}</h2>
  {error}
  <form method="post" action="/login" autocomplete="on">
    <input type="hidden" name="csrf_token" value="{e(csrf)}">
    <input type="hidden" name="next" value="{e(next_path)}">
    <label>{e(t("auth.username"))}<input name="username" id="username" value="{e(username)}" autocomplete="username" required maxlength="64" autofocus></label>
    <label>{e(t("auth.password"))}<input name="password" id="password" type="password" autocomplete="current-password" required maxlength="256"></label>
    <button type="submit" id="sign-in">{e(t("auth.submit"))}</button>
  </form>
  <p class="login-note">{e(t("auth.note"))}</p>
</main>""",
    )


def _denied_page(permission: str) -> str:
    e = html_escape.escape
    return _page(
        t("auth.forbidden"),
        f"""
<main class="login-card"><h1>{e(t("auth.forbidden"))}</h1>
<p>{e(t("auth.forbidden.detail"))} <code>{e(permission)}</code></p><p><a href="/">{e(t("nav.bigscreen"))}</a></p></main>""",
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    req = flask.request
    next_path = _safe_next(req.values.get("next"))
    if req.method == "GET":
        csrf = secrets.token_urlsafe(24)
        resp = flask.make_response(_login_form(next_path=next_path, csrf=csrf))
        resp.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=_secure_cookies())
        return resp
    # Login CSRF: the form's token must match the cookie set with the form (double submit).
    sent, expected = req.form.get("csrf_token", ""), req.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(sent, expected):
        return _login_form(t("auth.csrf"), next_path=next_path, csrf=expected), 403
    username = req.form.get("username", "")[:64]
    try:
        with db.system() as conn:
            sess = accounts.sign_in(
                conn, username, req.form.get("password", "")[:256], ip=_client_ip(), user_agent=req.headers.get("User-Agent")
            )
    except accounts.SignInRefused as refused:
        # One status for every refusal: a 429 for throttled names would tell which are being guessed.
        return _login_form(refused.message, username=username, next_path=next_path, csrf=expected), 401
    resp = flask.redirect(next_path)
    max_age = int(accounts.session_max().total_seconds())
    resp.set_cookie(SESSION_COOKIE, sess.token, max_age=max_age, httponly=True, samesite="Lax", secure=_secure_cookies())
    resp.set_cookie(CSRF_COOKIE, sess.csrf_token, max_age=max_age, httponly=False, samesite="Strict", secure=_secure_cookies())
    resp.delete_cookie(LOGIN_CSRF_COOKIE)
    return resp


@bp.post("/logout")
def logout():
    with db.system() as conn:
        accounts.sign_out(conn, flask.request.cookies.get(SESSION_COOKIE))
    session_cache.forget(flask.request.cookies.get(SESSION_COOKIE))
    resp = flask.redirect(flask.url_for("auth.login"))
    resp.delete_cookie(SESSION_COOKIE)
    resp.delete_cookie(CSRF_COOKIE)
    return resp


def permitted(permission: str) -> bool:
    """May the request's account do this? Outside a request (the CLI, tests calling a
    callback directly) there is no account and the caller is the owner: yes."""
    scope = db.current_scope()
    return scope is None or scope.can(permission)


def actor_name(fallback: str = "") -> str:
    """How the signed-in account appears in an incident's history: 张三(zhangsan)."""
    sess = current_session()
    if sess is None:
        scope = db.current_scope()
        return scope.username if scope is not None else fallback
    return f"{sess.display_name}({sess.scope.username})" if sess.display_name != sess.scope.username else sess.scope.username


def jurisdiction_wide() -> bool:
    """Is the account bound to the whole jurisdiction (or is there no account)?"""
    scope = db.current_scope()
    if scope is None:
        return True
    return len(scope.admin_code) <= len(_jurisdiction_code() or "")


def current_session() -> accounts.Session | None:
    """The signed-in session of the request being served (for page frames and callbacks)."""
    try:
        return flask.g.get("session")
    except RuntimeError:  # outside a request
        return None
