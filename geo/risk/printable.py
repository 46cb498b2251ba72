"""The weekly risk outputs as printable pages (A4, print CSS) and, where Chromium is
installed, as PDF.

Why HTML first: a town receives the notice on paper with a seal; a browser prints HTML
faithfully, and headless Chromium turns the same page into a PDF without any internet
access or extra Python package.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import jinja2

from geo.risk import reports as risk_reports

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

_STYLE = """
@page { size: A4 landscape; margin: 14mm 12mm; }
body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", serif; color: #000; margin: 0 auto; max-width: 270mm; }
h1 { text-align: center; font-size: 22pt; letter-spacing: .3em; margin: 4mm 0; color: #b00; }
h2 { font-size: 13pt; margin: 5mm 0 2mm; }
.meta { text-align: center; margin-bottom: 4mm; }
.letter p { text-indent: 2em; line-height: 1.8; font-size: 12pt; }
.letter .to { text-indent: 0; }
.sign { text-align: right; margin-top: 8mm; line-height: 1.8; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; page-break-inside: auto; }
th, td { border: 1px solid #333; padding: 1.2mm 1.5mm; vertical-align: top; }
th { background: #eee; white-space: nowrap; }
.n { white-space: nowrap; }
tr { page-break-inside: avoid; }
thead { display: table-header-group; }
.tier-高风险 { color: #b00; font-weight: bold; }
.tier-中风险 { color: #c60; }
@media screen { body { padding: 10mm; } .print { position: fixed; top: 4mm; right: 6mm; } }
@media print { .print { display: none; } }
"""

_TABLE = """{% set short = ('序号', '风险等级', '处理状态', '重点清单', '发现日期', '化解时限', '风险分值') %}{% macro table(columns, rows) %}
<table><thead><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr></thead><tbody>
{% for r in rows %}<tr>{% for c in columns %}<td class="{% if c == '风险等级' %}tier-{{ r[c] }} {% endif %}{% if c in short %}n{% endif %}">{{ r[c] }}</td>{% endfor %}</tr>
{% else %}<tr><td colspan="{{ columns|length }}">无</td></tr>{% endfor %}
</tbody></table>{% endmacro %}"""

_PAGE = _ENV.from_string(
    _TABLE
    + """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title><style>{{ style }}</style></head>
<body><button class="print" onclick="window.print()">打印</button>
{% if notice %}
<h1>风险提示函</h1><div class="meta">{{ notice.number }}</div>
<div class="letter"><p class="to">{{ notice.to }}：</p><p>{{ notice.body }}</p></div>
<h2>附件1：高风险事项（{{ notice['items']|length }} 件）</h2>{{ table(item_columns, notice['items']) }}
<h2>附件2：高风险网格（{{ notice.grids|length }} 个）</h2>{{ table(grid_columns, notice.grids) }}
<div class="sign">{{ notice.sender }}<br>{{ notice.date }}</div>
{% else %}
<h1 style="letter-spacing:0">{{ title }}</h1><div class="meta">{{ period }}</div>
<h2>一、风险隐患问题（{{ items|length }} 件）</h2>{{ table(item_columns, items) }}
<h2>二、高、中风险网格（{{ grids|length }} 个）</h2>{{ table(grid_columns, grids) }}
{% endif %}
</body></html>"""
)


def risk_list_page(conn, town_code: str, week_end=None) -> str:
    rl = risk_reports.risk_list(conn, town_code, week_end)
    return _PAGE.render(
        title=f"{rl['town']['name']}风险隐患问题清单",
        period=f"{rl['week_start']:%Y年%m月%d日} 至 {rl['week_end']:%Y年%m月%d日}",
        items=rl["items"],
        grids=rl["grids"],
        notice=None,
        style=_STYLE,
        item_columns=risk_reports.RISK_LIST_COLUMNS,
        grid_columns=risk_reports.GRID_LIST_COLUMNS,
    )


def notice_page(conn, town_code: str, week_end=None) -> str:
    nt = risk_reports.notice(conn, town_code, week_end)
    return _PAGE.render(
        title=f"风险提示函 {nt['town']['name']}",
        notice=nt,
        style=_STYLE,
        period="",
        items=[],
        grids=[],
        item_columns=risk_reports.RISK_LIST_COLUMNS,
        grid_columns=risk_reports.GRID_LIST_COLUMNS,
    )


def pdf_tool() -> str | None:
    """The headless browser that prints PDFs here, or None (then offer the HTML page)."""
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def to_pdf(html: str, path: str | Path, timeout: int = 60) -> Path:
    """Print a page to PDF with headless Chromium (RuntimeError when none is installed)."""
    tool = pdf_tool()
    if tool is None:
        raise RuntimeError("没有可用的 PDF 工具 (no chromium found); print the HTML page from a browser instead")
    path = Path(path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html, encoding="utf-8")
        subprocess.run(
            [
                tool,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-pdf-header-footer",
                f"--user-data-dir={tmp}/profile",
                f"--print-to-pdf={path}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
    if not path.exists() or path.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF to {path}")
    return path
