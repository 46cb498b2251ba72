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

from geo import db, firstrun, labels
from geo.labels import t

bp = flask.Blueprint("welcome", __name__)
PATH = "/welcome"
IMPORT_PAGE = "/import"

labels.ZH_CN.update(
    {
        "welcome.title": "开始使用：导入本辖区数据",
        "welcome.lead": "数据库中还没有辖区数据。按以下顺序完成，大屏即显示本辖区的网格、住户与事件。",
        "welcome.lead.no_account": "这是一个新安装，还没有任何账号。请在服务器上按顺序执行以下命令：",
        "welcome.done": "已完成",
        "welcome.next": "下一步",
        "welcome.todo": "待完成",
        "welcome.optional": "可选",
        "welcome.step.boundary": "导入行政区划边界，确定辖区",
        "welcome.step.boundary.how": "区县、街道乡镇、村社区的边界（Shapefile/GeoPackage/GeoJSON，含 6/9/12 位区划代码和名称）",
        "welcome.step.admin": "创建系统管理员账号",
        "welcome.step.admin.how": "账号绑定到辖区代码；密码在终端输入，不少于 10 位",
        "welcome.step.grids": "导入网格",
        "welcome.step.grids.how": "网格面（网格编码/名称/类型可选），归属社区按空间自动判定",
        "welcome.step.households": "导入住户",
        "welcome.step.households.how": "住户点或带经纬度的表格（详细地址、户主、人口数 …）",
        "welcome.step.incidents": "导入事件台账",
        "welcome.step.incidents.how": "12345 热线或矛盾纠纷台账（事件类型、受理时间、地址、办理状态 …）",
        "welcome.step.places": "导入重点场所与人员",
        "welcome.step.places.how": "学校、医院、加油站、重点人员等（场所类型自动对应）",
        "welcome.step.staff": "导入网格员花名册",
        "welcome.step.staff.how": "1+1+N：网格长、专职、兼职、流动网格员，按网格编码",
        "welcome.jurisdiction": "辖区：{name}（{code}）",
        "welcome.count": "{n} 条",
        "welcome.then": "完成后刷新本页，登录即进入指挥大屏；其余数据可在「数据导入」页面上传。",
        "welcome.open_import": "打开数据导入页面",
        "welcome.demo": "只想先看看？演示数据：python -m geo demo（会清空当前数据库）",
    }
)

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
