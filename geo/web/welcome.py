"""First run without the demo (issue #14, item 9): a page that says what to do first.

Before any account exists nobody can sign in, so the guard sends every page request to
/welcome (public, plain HTML like the sign-in page, no data shown beyond which steps are
done). Once signed in, the big screen of a jurisdiction without grids shows the same steps
with links (`setup_panel`) instead of an empty map. The steps and their state come from
geo.firstrun; the commands are the ones the README's "Bring your own county" explains.
"""

from __future__ import annotations

import html as html_escape

import flask
from dash import dcc, html

from geo import db, firstrun
from geo.labels import t

bp = flask.Blueprint("welcome", __name__)
PATH = "/welcome"
IMPORT_PAGE = "/import"


# The command line of each step ({code}: the jurisdiction's code once known).
COMMANDS = {
    "boundary": "python -m geo import boundary 区划边界.shp",
    "admin": "python -m geo user add admin --role admin --unit {code}",
    "grids": "python -m geo import grids 网格.shp",
    "households": "python -m geo import households 住户.xlsx",
    "incidents": "python -m geo import incidents 12345台账.xlsx",
    "places": "python -m geo import places 重点场所.xlsx",
    "staff": "python -m geo import staff 网格员花名册.xlsx",
}
REQUIRED = ("boundary", "admin", "grids")


def _state() -> tuple[dict, list[dict]]:
    with db.system() as conn:
        c = firstrun.counts(conn)
        return c, firstrun.steps(c, firstrun.admins(conn))


def _command(key: str, c: dict) -> str:
    code = c["jurisdiction"]["code"] if c["jurisdiction"] else "辖区代码"
    return COMMANDS[key].format(code=code)


def _status(step: dict) -> str:
    if step["done"]:
        return t("welcome.done")
    if step["next"]:
        return t("welcome.next")
    return t("welcome.todo") if step["key"] in REQUIRED else t("welcome.optional")


@bp.route(PATH)
def welcome():
    """The steps as plain HTML, while no account exists; afterwards the big screen."""
    with db.system() as conn:
        if firstrun.has_accounts(conn):
            return flask.redirect("/")
    c, steps = _state()
    e = html_escape.escape
    items = "".join(
        f"""<li class="step {"done" if s["done"] else "next" if s["next"] else ""}" id="step-{s["key"]}">
  <span class="step-status">{e(_status(s))}</span> <b>{e(t("welcome.step." + s["key"]))}</b>
  <div class="step-how">{e(t("welcome.step." + s["key"] + ".how"))}</div>
  <code>{e(_command(s["key"], c))}</code></li>"""
        for s in steps
    )
    where = f'<p class="welcome-where">{e(t("welcome.jurisdiction", **c["jurisdiction"]))}</p>' if c["jurisdiction"] else ""
    body = f"""
<main class="login-card welcome-card">
  <h1>{e(t("app.title"))}</h1>
  <h2>{e(t("welcome.title"))}</h2>
  <p>{e(t("welcome.lead.no_account"))}</p>{where}
  <ol class="welcome-steps">{items}</ol>
  <p class="login-note">{e(t("welcome.then"))}</p>
  <p class="login-note">{e(t("welcome.demo"))}</p>
</main>"""
    page = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(t("welcome.title"))}</title>
<link rel="stylesheet" href="/assets/login.css"></head><body class="login-body">{body}</body></html>"""
    return flask.Response(page, mimetype="text/html")


def not_ready(conn) -> dict | None:
    """The first-run state when the signed-in view has no grids yet (else None): the big
    screen then shows setup_panel instead of an empty map."""
    if firstrun.ready(conn):
        return None
    with db.system() as system:  # counts only (web roles may not read every table whole)
        return firstrun.counts(system)


def setup_panel(c: dict, may_import: bool) -> html.Div:
    """The steps inside the app, for a signed-in account on a jurisdiction without grids."""
    with db.system() as conn:
        steps = firstrun.steps(c, firstrun.admins(conn))
    return html.Div(
        className="setup-panel",
        id="setup-panel",
        children=[
            html.H2(t("welcome.title")),
            html.P(t("welcome.lead")),
            html.P(t("welcome.jurisdiction", **c["jurisdiction"])) if c["jurisdiction"] else None,
            html.Ol(
                className="welcome-steps",
                children=[
                    html.Li(
                        className="step " + ("done" if s["done"] else "next" if s["next"] else ""),
                        id=f"step-{s['key']}",
                        children=[
                            html.Span(_status(s), className="step-status"),
                            " ",
                            html.B(t("welcome.step." + s["key"])),
                            html.Span(t("welcome.count", n=s["count"]), className="step-count") if s["done"] else None,
                            html.Div(t("welcome.step." + s["key"] + ".how"), className="step-how"),
                            html.Code(_command(s["key"], c)),
                        ],
                    )
                    for s in steps
                ],
            ),
            dcc.Link(t("welcome.open_import"), href=IMPORT_PAGE, className="setup-import", id="setup-import")
            if may_import
            else None,
        ],
    )
