"""A 12345 hotline ledger as an office exports it, for the 数据导入 page's browser test:
Chinese headers (工单编号, 受理时间, 事件类型, 事发地址, 办理状态, 来电记录, 经度, 纬度), office
dates, hotline wordings and statuses, no risk factors, and bad rows (blank coordinates, a point
in another province, a date that does not exist), in the tiny jurisdiction's west community."""

from __future__ import annotations

from datetime import datetime, timedelta

import openpyxl

# A free-text column under a header no alias or name shape recognises (群众反映内容 is read
# as the description by its shape, 5695758): the page's test maps it by hand.
FREE_TEXT = "来电记录"
HEADER = ["工单编号", "受理时间", "事件类型", "事发地址", "办理状态", FREE_TEXT, "经度", "纬度"]
TYPES = ["矛盾纠纷-邻里纠纷", "噪音扰民", "停车难", "婚姻家庭纠纷", "路灯不亮"]
STATUSES = ["已受理", "办理中", "已办结", "已回访"]
GOOD, BAD = 120, 12


def write(path, unrecognised_column: str = FREE_TEXT) -> dict:
    """The ledger at `path` (.xlsx); returns {good, bad, bad_date}. The free-text column has a
    header no one recognises: the page maps it by hand."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "工单"
    sheet.append([*HEADER[:5], unrecognised_column, *HEADER[6:]])
    start = datetime.now() - timedelta(days=60)
    for i in range(GOOD):
        t = start + timedelta(days=i % 55, minutes=37 * i)
        when = f"{t:%Y/%-m/%-d %H:%M}" if i % 2 else f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"
        x, y = 106.651 + (i % 12) * 0.0007, 35.531 + (i // 12) * 0.0015
        sheet.append([f"GD{i:06d}", when, TYPES[i % len(TYPES)], f"新民路{i}号", STATUSES[i % 4], f"来电反映第{i + 1}件事", x, y])
    for j in range(BAD):
        x, y, when = 106.655, 35.54, f"{start:%Y/%-m/%-d} 09:00"
        if j < 4:
            x = y = None  # blank coordinates
        elif j < 8:
            x, y = 116.40, 39.90  # Beijing: another province
        else:
            when = "2025-13-01"  # no such month
        sheet.append([f"GD{GOOD + j:06d}", when, "噪音扰民", "外省", "已受理", "无", x, y])
    book.save(path)
    return {"good": GOOD, "bad": BAD, "bad_date": "2025-13-01"}
