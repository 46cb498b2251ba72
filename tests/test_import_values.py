"""Cell values as offices write them (geo/io/values.py), encodings (geo/io/encodings.py) and
header recognition (geo/io/columns.py): no database needed."""

from __future__ import annotations

from datetime import datetime

import pytest

from geo.io import columns, encodings, fields
from geo.io import values as v
from geo.worktime import CST


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("2025/3/5 14:22", datetime(2025, 3, 5, 14, 22)),
        ("2025年3月5日", datetime(2025, 3, 5)),
        ("2025年3月5日 14时22分", datetime(2025, 3, 5, 14, 22)),
        ("2025.3.5", datetime(2025, 3, 5)),
        ("20250305", datetime(2025, 3, 5)),
        (45721.5, datetime(2025, 3, 5, 12, 0)),  # an Excel serial date
        ("45721", datetime(2025, 3, 5)),
        (datetime(2025, 3, 5, 14, 22), datetime(2025, 3, 5, 14, 22)),
        # a CSV saved from Chinese Excel/WPS keeps the 12-hour time as shown (a second county's 12345 export)
        ("2025/3/5 下午2:22", datetime(2025, 3, 5, 14, 22)),
        ("2025/3/5 上午 8:07", datetime(2025, 3, 5, 8, 7)),
        ("2025/3/5 上午12:30", datetime(2025, 3, 5, 0, 30)),
        ("2025/3/5 中午12:10", datetime(2025, 3, 5, 12, 10)),
        ("2025/3/5 晚上11:59", datetime(2025, 3, 5, 23, 59)),
        ("2025/3/5 8:07:00 PM", datetime(2025, 3, 5, 20, 7)),
    ],
)
def test_times_as_offices_write_them_are_china_time(cell, expected):
    assert v.timestamp(cell) == expected.replace(tzinfo=CST)


@pytest.mark.parametrize("cell", ["2025-13-01", "2025/2/30", "明天", 12, True, "2025/3/5 下午13:00"])
def test_impossible_times_are_refused(cell):
    with pytest.raises(ValueError):
        v.timestamp(cell)


def test_categories_by_code_name_pair_and_alias_with_a_suggestion():
    cats = {
        "0103": {"minor_code": "0103", "major_name": "矛盾纠纷", "minor_name": "邻里纠纷"},
        "1103": {"minor_code": "1103", "major_name": "环境保护", "minor_name": "社会生活噪声"},
    }
    parse = v.Categories(cats, {"噪音扰民": "1103", "不存在": "9999"})
    assert [parse(x) for x in ("103", "邻里纠纷", "矛盾纠纷-邻里纠纷", "矛盾纠纷／邻里纠纷", "噪音扰民")] == [
        "0103",
        "0103",
        "0103",
        "0103",
        "1103",
    ]
    with pytest.raises(v.Unknown) as info:
        parse("邻里纠份")
    assert info.value.suggestion == "邻里纠纷 (0103)"


def test_statuses_places_and_tags():
    status = v.choice(v.STATUSES)
    assert [status(x) for x in ("已受理", "办理中", "已办结（满意）", "已回访", "已派单", "撤销")] == [
        "registered",
        "in_progress",
        "closed",
        "followed_up",
        "dispatched",
        "cancelled",
    ]
    kind = v.place_kind(v.place_types())
    assert [kind(x) for x in ("学校", "医院", "加油站", "党群服务中心", "社区矫正对象")] == [
        "sensitive_place",
        "sensitive_place",
        "dangerous_thing",
        "service_center",
        "key_person",
    ]
    assert v.tags(v.HOUSEHOLD_TAGS)("留守老人、低保户") == ["left_behind", "hardship"]
    assert v.integer(0, 100)("3人") == 3


def test_headers_recognised_per_layer_and_overridden():
    ledger = ["工单编号", "受理时间", "事件类型", "事发地址", "办理状态", "涉事人数（人）", "备注"]
    found = columns.match(ledger, fields.incidents(lambda x: x))
    assert found.fields == {
        "external_id": "工单编号",
        "category": "事件类型",
        "reported_at": "受理时间",
        "people_involved": "涉事人数（人）",
        "status": "办理状态",
        "address": "事发地址",
    }
    homes = columns.match(["户主姓名", "联系电话", "身份证号", "详细地址", "人口数"], fields.HOUSEHOLDS)
    assert homes.fields["address"] == "详细地址" and homes.fields["persons"] == "人口数" and not homes.missing
    odd = columns.match(
        ["发生日期", "类别名"], fields.incidents(lambda x: x), columns.parse_option("发生日期=reported_at，类别名=category")
    )
    assert odd.fields == {"reported_at": "发生日期", "category": "类别名"} and odd.how["发生日期"] == "--columns"
    with pytest.raises(ValueError, match="not a field of this layer"):
        columns.match(["a"], fields.HOUSEHOLDS, {"a": "nonsense"})
    cut = columns.match(["统计用区划", "名称"], fields.BOUNDARY, shapefile=True)  # GBK names cut at 10 bytes
    assert cut.fields["code"] == "统计用区划"


def test_encodings_from_the_bytes():
    gbk = "区划代码 崆峒区 东关街道".encode("gbk")
    assert encodings.guess(gbk).codec == "gb18030"
    assert encodings.guess("区划代码".encode()).codec == "utf-8"
    assert encodings.decode_text("名称\n崆峒区\n".encode("gbk"))[1].codec == "gb18030"
    assert encodings.looks_garbled([gbk.decode("latin-1")]) and not encodings.looks_garbled(["区划代码", "name"])
    assert encodings.codec_for("CP936") == "gb18030" and encodings.codec_for("UTF-8") == "utf-8"
