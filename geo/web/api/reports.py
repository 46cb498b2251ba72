"""Printable weekly risk outputs: /reports/risk-list/<town_code> (风险隐患问题清单) and
/reports/notice/<town_code> (风险提示函), as A4 pages (print CSS), as PDF with ?format=pdf
where Chromium is installed, and as Excel with ?format=xlsx. Optional ?week_end=YYYY-MM-DD.
Bad input is a 400 (a week_end outside FIRST_DAY..LAST_DAY, an unknown format) or a 404 (a
town code that is not 9 digits), never a 500 (tests/fuzz/test_api.py).
"""

from __future__ import annotations

import io
import tempfile
from datetime import date
from pathlib import Path

import flask

from geo import db
from geo.risk import excel as risk_excel
from geo.risk import printable as risk_html
from geo.security import accounts

bp = flask.Blueprint("reports", __name__, url_prefix="/reports")
FORMATS = ("html", "xlsx", "pdf")
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2100, 1, 1)

_PAGES = {
    "risk-list": (risk_html.risk_list_page, risk_excel.write_risk_list, "风险隐患问题清单"),
    "notice": (risk_html.notice_page, risk_excel.write_notice, "风险提示函"),
}


@bp.get("/<kind>/<town_code>")
def weekly(kind: str, town_code: str):
    if kind not in _PAGES or not (town_code.isascii() and town_code.isdigit() and len(town_code) == 9):
        flask.abort(404)  # a town (乡镇/街道) code has 9 digits
    page, workbook, title = _PAGES[kind]
    fmt = flask.request.args.get("format", "html")
    if fmt not in FORMATS:
        return flask.Response(f"format 应为 {'/'.join(FORMATS)}", status=400, mimetype="text/plain")
    try:
        week_end = date.fromisoformat(flask.request.args["week_end"]) if "week_end" in flask.request.args else None
    except ValueError:
        return flask.Response("week_end 应为 YYYY-MM-DD", status=400, mimetype="text/plain")
    if week_end is not None and not FIRST_DAY <= week_end < LAST_DAY:
        return flask.Response(f"week_end 应在 {FIRST_DAY} 至 {LAST_DAY} 之间", status=400, mimetype="text/plain")
    try:
        # an export is audited (a write: the primary); the page on screen is a read (a replica)
        with db.pooled() if fmt in ("xlsx", "pdf") else db.reading() as conn, tempfile.TemporaryDirectory() as tmp:
            name = f"{title}-{town_code}"
            if fmt in ("xlsx", "pdf"):  # a file that leaves the screen: logged (the names in it are masked)
                accounts.audit(conn, "export", f"report:{kind}:{town_code}", {"format": fmt, "week_end": str(week_end or "")})
            if fmt == "xlsx":
                path = Path(tmp) / f"{town_code}.xlsx"
                workbook(conn, town_code, path, week_end)
                return _download(path, name + ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            html = page(conn, town_code, week_end)
            if fmt == "pdf":
                if risk_html.pdf_tool() is None:
                    return flask.Response("本机没有 PDF 工具，请用浏览器打印此页", status=501, mimetype="text/plain")
                return _download(risk_html.to_pdf(html, Path(tmp) / f"{town_code}.pdf"), name + ".pdf", "application/pdf")
            return flask.Response(html, mimetype="text/html")
    except ValueError as exc:  # unknown town
        return flask.Response(str(exc), status=404, mimetype="text/plain")


def _download(path: Path, name: str, mimetype: str):
    """Send a file made in a temporary directory (read into memory before it goes away)."""
    return flask.send_file(io.BytesIO(path.read_bytes()), mimetype=mimetype, as_attachment=True, download_name=name)
