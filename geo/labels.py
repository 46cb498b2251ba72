"""Every word the UI shows, in one place, so another language is one more dictionary.

`t(key)` looks a label up in the active language (QUANYU_LANG, default zh_CN) and falls
back to Simplified Chinese, then to the key itself, so a missing translation shows up as
an English key on screen instead of a crash.
"""
from __future__ import annotations

import os

ZH_CN: dict[str, str] = {
    # page and header
    "app.title": "全域 · 网格化服务管理指挥平台",
    "bigscreen.title": "{name}综治中心 · 一屏观全域",
    "bigscreen.subtitle": "网格化服务管理 风险地图",
    "updated": "数据更新于",
    "synthetic": "演示数据（合成）",
    # navigation
    "nav.bigscreen": "指挥大屏",
    "nav.drill": "研判分析",
    "nav.planner": "网格规划",
    "nav.intake": "事件受理",
    "nav.admin": "系统管理",
    # KPIs
    "kpi.today": "今日事件",
    "kpi.month": "本月事件",
    "kpi.open": "在办",
    "kpi.overdue": "超期督办",
    "kpi.resolution": "化解率",
    "kpi.resolution.hint": "近365天矛盾纠纷",
    "kpi.village_share": "小事不出村",
    "kpi.village_share.hint": "村(社区)级化解占比",
    "kpi.high_grids": "高风险网格",
    "kpi.coverage": "网格覆盖率",
    "kpi.coverage.hint": "辖区面积",
    "kpi.fulltime": "专职网格员配备",
    "kpi.fulltime.hint": "城市网格",
    # panels
    "panel.category": "事件类别（近30天）",
    "panel.trend": "30天趋势",
    "panel.level": "化解层级",
    "panel.ranking": "街道/乡镇排名（近90天）",
    "panel.feed": "最新事件",
    "level.community": "村(社区)",
    "level.town": "乡镇(街道)",
    "level.district": "区县",
    "ranking.town": "街道/乡镇",
    "ranking.found": "排查量",
    "ranking.rate": "化解率",
    "ranking.overdue": "超期",
    # map
    "map.layers": "图层",
    "map.legend": "图例",
    "map.window": "时间",
    "map.category": "类别",
    "map.category.all": "全部类别",
    "window.1": "今日",
    "window.7": "近7天",
    "window.30": "近30天",
    "window.90": "近90天",
    "window.custom": "自定义",
    "tier.high": "高风险",
    "tier.medium": "中风险",
    "tier.low": "低风险",
    "tier.none": "未评估",
    # layers and legends
    "layer.grid_risk": "网格风险等级",
    "layer.admin": "行政区划",
    "layer.incident_heat": "事件热力",
    "layer.coverage": "覆盖缺口与重叠",
    "layer.households": "户籍密度",
    "layer.places": "重点场所",
    "legend.district": "区县界",
    "legend.town": "街道/乡镇界",
    "legend.community": "社区/村界",
    "legend.density": "事件密度 低→高",
    "legend.households": "户数 少→多",
    "legend.gap": "覆盖缺口",
    "legend.sliver": "碎片缝隙",
    "legend.overlap": "网格重叠",
    "legend.no_worker": "无网格员网格",
    "kind.dangerous_thing": "危险物品",
    "kind.sensitive_place": "敏感场所",
    "kind.service_center": "服务中心",
    # grid card
    "card.code": "网格编码",
    "card.community": "所属社区(村)",
    "card.kind": "类型",
    "card.staff": "网格力量",
    "card.households": "户数",
    "card.persons": "人口",
    "card.open": "在办事件",
    "card.risk": "风险等级",
    "card.reasons": "研判依据",
    "card.drill": "进入研判 →",
    "card.close": "关闭",
    "card.no_staff": "无网格员",
    "kind.urban": "城市网格",
    "kind.rural": "农村网格",
    "kind.dedicated": "专属网格",
    "role.leader": "网格长",
    "role.fulltime": "专职",
    "role.parttime": "兼职",
    "role.mobile": "流动",
    # statuses
    "status.received": "已接收",
    "status.registered": "已立案",
    "status.dispatched": "已派遣",
    "status.in_progress": "处置中",
    "status.verified": "已核查",
    "status.closed": "已结案",
    "status.followed_up": "已回访",
    "status.returned": "已退回",
    "status.escalated": "已上报",
    "status.cancelled": "已撤销",
    "source.patrol": "网格员巡查",
    "source.resident": "群众上报",
    "source.hotline": "12345热线",
    "source.police": "公安转办",
    "source.open311": "开放接口",
    "source.operator": "中心录入",
    "source.import": "批量导入",
    "unit.items": "件",
    "unit.grids": "个",
    "unit.households": "户",
    "unit.persons": "人",
    "empty": "暂无数据",
}

LANGUAGES = {"zh_CN": ZH_CN}


def t(key: str, **fmt) -> str:
    lang = LANGUAGES.get(os.environ.get("QUANYU_LANG", "zh_CN"), ZH_CN)
    text = lang.get(key) or ZH_CN.get(key) or key
    return text.format(**fmt) if fmt else text
