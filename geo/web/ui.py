"""The pieces every page draws with, in one copy: the CJK font stack, percentages, titled
panels, a grid's forecast lines, and the two charts the big screen and the drill-down both show (a trend of bars
with a line, and a ranking of categories as horizontal bars).

Why here: pages used to share these by importing each other (the drill page took FONT and
pct from the big screen) or by copying them with small differences; a page is now free to
change without another page changing with it. Page-specific looks are parameters here,
not copies.
"""

from __future__ import annotations

import plotly.graph_objects as go
from dash import html

from geo.labels import t

FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
TIER_CLASS = {"high": "tier-high", "medium": "tier-medium", "low": "tier-low"}
GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}
GRID_LINES = "rgba(120,160,210,0.15)"
BAR = "#3fa9f5"
TEXT = "#cfe3ff"


def pct(x, digits: int = 1) -> str:
    """A share as a percentage, '—' when there is none (no cases, no area)."""
    return "—" if x is None else f"{x * 100:.{digits}f}%"


def panel(title: str, body, cls: str = "", pid: str | None = None, *, kind: str = "panel", wrap: bool = False) -> html.Div:
    """A titled box of class `kind` (each page's CSS styles its own: 'panel' on the big
    screen, 'drill-panel' on the drill page). With `wrap` (or an id `pid` for a callback to
    fill) the body sits in a div.panel-body of its own, which can scroll."""
    if wrap or pid:
        body = html.Div(body, className="panel-body", **({"id": pid} if pid else {}))
    return html.Div(className=f"{kind} {cls}", children=[html.Div(title, className="panel-title"), body])


def chart(fig: go.Figure, font_size: int = 13, margin: int = 8) -> go.Figure:
    """The dark, transparent, legend-less look of every chart on a page (a chart of two series
    names them itself: trend_figure)."""
    fig.update_layout(
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=dict(family=FONT, color=TEXT, size=font_size),
        margin=dict(l=margin, r=margin, t=6, b=6),
        showlegend=False,
        autosize=True,
    )
    fig.update_xaxes(gridcolor=GRID_LINES, zeroline=False)
    fig.update_yaxes(gridcolor=GRID_LINES, zeroline=False)
    return fig


def trend_figure(
    x: list,
    bars: list,
    line: list,
    names: tuple[str, str],
    *,
    markers: bool = False,
    daily: bool = False,
    font_size: int = 13,
    margin: int = 8,
    tickformat: str | None = None,
) -> go.Figure:
    """Bars (all cases) with a line over them (the cases to watch): `names` are the two
    series' names; `markers` dots the line; `daily` labels the x axis as month-day;
    `tickformat` labels it so (plotly's own dates read "Nov 15" on a Chinese page)."""
    bar_trace = go.Bar(x=x, y=bars, name=names[0], marker_color="rgba(63,169,245,0.6)")
    if markers:
        line_trace = go.Scatter(
            x=x, y=line, name=names[1], mode="lines+markers", line=dict(color="#f5b82e", width=2.5), marker=dict(size=4)
        )
    else:
        line_trace = go.Scatter(x=x, y=line, name=names[1], mode="lines", line=dict(color="#f5b82e", width=2))
    fig = go.Figure([bar_trace, line_trace])
    if markers:
        fig.update_layout(barmode="overlay")
    if daily:
        fig.update_xaxes(tickformat="%m-%d", nticks=6)
    if tickformat:
        fig.update_xaxes(tickformat=tickformat, hoverformat=tickformat)
    chart(fig, font_size, margin)
    # the two series named above the plot, right-aligned: unnamed, a line above the bars read
    # as "more of these than of all cases"
    fig.update_layout(
        showlegend=True,
        legend=dict(
            orientation="h", x=1, xanchor="right", y=1, yanchor="bottom", bgcolor="rgba(0,0,0,0)", font=dict(size=font_size - 1)
        ),
        margin=dict(t=font_size + 12),
    )
    return fig


def category_figure(
    labels: list[str],
    values: list[int],
    *,
    notes: list[str] | None = None,
    outside: bool = False,
    font_size: int = 13,
    margin: int = 8,
) -> go.Figure:
    """Categories as horizontal bars, the first on top; `notes` add a word to each hover
    (e.g. the department); `outside` writes the counts beside the bars with room kept."""
    labels, values = labels[::-1], values[::-1]
    hover = "%{y}: %{x}（%{customdata}）<extra></extra>" if notes is not None else "%{y}: %{x}<extra></extra>"
    extra = dict(customdata=notes[::-1]) if notes is not None else {}
    if outside:
        extra.update(textposition="outside", cliponaxis=False, textfont=dict(size=11, color=TEXT))
    else:
        extra.update(textposition="auto")
    bars = go.Bar(x=values, y=labels, orientation="h", marker_color=BAR, text=values, hovertemplate=hover, **extra)
    fig = chart(go.Figure(bars), font_size, margin)
    if outside:
        fig.update_yaxes(tickfont=dict(size=11), automargin=True, dtick=1)
        fig.update_xaxes(range=[0, 1.15 * max(values, default=1)])
    return fig


def forecast_rows(f: dict | None) -> list:
    """A grid's 下周预警 line and its reasons (grid card on the big screen, 为何是热点 on the
    drill page), when the grid has a stored forecast."""
    if not f:
        return []
    text = t("card.forecast.value", expected=f"{f['expected']:.1f}", rank=f["rank"])
    badge = html.Span(t("card.forecast.rising"), className="badge forecast-rising") if f["rising"] else None
    return [
        html.Div([t("card.forecast"), " ", html.Span(text, className="card-forecast"), " ", badge], className="card-sub"),
        html.Ul([html.Li(r) for r in f["reasons"]], className="card-reasons"),
    ]
