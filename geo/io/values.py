"""Cell values as offices write them, turned into what the database stores.

Why one module: a 12345 ledger says `2025/3/5 14:22`, `2025年3月5日` or an Excel serial for a
time, `矛盾纠纷-邻里纠纷` or `噪音扰民` for a category, `已办结` for a status, `加油站` for a
place. Each parser here takes one non-empty cell and returns the stored value or raises
ValueError saying why; `Unknown` (a ValueError) carries a suggestion, so that the importer
lists an unknown value once with "did you mean", not once per row.
"""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any, Callable

from geo.config import DATA_DIR
from geo.worktime import CST

MAX_TEXT_CHARS = 4000  # the longest text cell (an incident description, as routing.MAX_DESCRIPTION)
# C0 control characters but tab, LF and CR, and DEL: PostgreSQL refuses NUL in text, XML and
# Excel (openpyxl) refuse the others, so a cell holding one would break every later export.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MIN_TIME, MAX_TIME = datetime(1970, 1, 1, tzinfo=CST), datetime(2100, 1, 1, tzinfo=CST)
EXCEL_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug folded in)
EXCEL_SERIALS = (20_000, 80_000)  # 1954 .. 2119: a number in this range in a time column is a serial
CATEGORY_ALIASES_FILE = DATA_DIR / "category_aliases.csv"
PLACE_TYPES_FILE = DATA_DIR / "place_types.csv"


class Unknown(ValueError):
    """A value not in a vocabulary; `suggestion` is the closest known one (or None)."""

    def __init__(self, message: str, suggestion: str | None = None):
        self.suggestion = suggestion
        super().__init__(message + (f"; did you mean {suggestion}?" if suggestion else ""))


def key(value: Any) -> str:
    """Normalised text for matching: case, spaces, dashes and full-width forms folded."""
    text = str(value).strip().lower()
    text = text.translate({0x3000: " ", 0xFF0D: "-", 0x2014: "-", 0x2013: "-"})
    return re.sub(r"[\s\-]+", "_", text)


def suggest(value: str, known) -> str | None:
    """The known value closest to `value` (difflib), if any is reasonably close."""
    found = difflib.get_close_matches(str(value), list(known), n=1, cutoff=0.5)
    return found[0] if found else None


def text(v: Any) -> str | None:
    if isinstance(v, float) and v.is_integer():
        v = int(v)  # Excel and shapefiles store codes and phone numbers as numbers
    if isinstance(v, datetime):
        return v.isoformat()
    out = str(v).strip()
    if CONTROL.search(out):
        raise ValueError("contains control characters (such as NUL): remove them")
    if len(out) > MAX_TEXT_CHARS:
        raise ValueError(f"longer than {MAX_TEXT_CHARS} characters ({len(out)})")
    return out or None


def integer(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(v):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        s = str(v).strip().rstrip("人户个名")  # 人口数 "3人"
        if isinstance(v, bool) or not re.fullmatch(r"[+-]?\d+(\.0*)?", s):
            raise ValueError("not a whole number")
        n = int(s.split(".")[0])
        if not lo <= n <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return n

    return parse


def choice(choices: dict[Any, tuple[str, ...]]) -> Callable[[Any], Any]:
    lookup = {key(a): value for value, aliases in choices.items() for a in (str(value), *aliases)}
    accepted = ", ".join(f"{v}" + (f" ({'/'.join(a)})" if a else "") for v, a in choices.items())
    words = {a: value for value, aliases in choices.items() for a in (str(value), *aliases)}

    def parse(v):
        k = key(text(v))
        if k not in lookup:  # 已办结（满意）, 办理中(超期): the word before the brackets decides
            k = key(re.sub(r"\s*[（(\[【].*$", "", str(v).strip()))
        if k not in lookup:
            raise Unknown(f"unknown value; accepted: {accepted}", suggest(str(v), words))
        return lookup[k]

    return parse


def tags(choices: dict[str, tuple[str, ...]]) -> Callable[[Any], list[str]]:
    one = choice(choices)

    def parse(v):
        found = [one(t) for t in re.split(r"[;；,，、|\s]+", str(v)) if t]
        return list(dict.fromkeys(found))

    return parse


_DATE = re.compile(
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ T]*(\d{1,2})[:时点](\d{1,2})?(?:[:分](\d{1,2}(?:\.\d+)?)?)?秒?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2})(\d{2})(\d{2})?)?$")
TIME_HELP = "e.g. 2025-03-05 14:22, 2025/3/5 14:22, 2025年3月5日 or an Excel date"


def timestamp(v: Any) -> datetime:
    """A time as offices write it; without an offset it is China Standard Time (UTC+8)."""
    if isinstance(v, bool):
        raise ValueError(f"not a time ({TIME_HELP})")
    if isinstance(v, datetime):
        out = v
    elif isinstance(v, date):
        out = datetime(v.year, v.month, v.day)
    elif isinstance(v, (int, float)) or re.fullmatch(r"\d{5}(\.\d+)?", str(v).strip()):
        serial = float(v)
        if not EXCEL_SERIALS[0] <= serial <= EXCEL_SERIALS[1]:
            raise ValueError(f"the number {v} is not a time ({TIME_HELP})")
        out = EXCEL_EPOCH + timedelta(seconds=round(serial * 86400))
    else:
        out = _parse_time_text(text(v))
    out = out if out.tzinfo else out.replace(tzinfo=CST)
    try:  # deadlines are computed from it: year 1 or 9999 would overflow, and is a typo anyway
        inside = MIN_TIME <= out < MAX_TIME
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError(f"must lie between {MIN_TIME:%Y-%m-%d} and {MAX_TIME:%Y-%m-%d}")
    return out


# The half of the day a 12-hour time is in, as Chinese Excel and WPS write it into a CSV
# (2024/3/5 下午2:07) and as English locales do (8:07 PM): hours to add to h (1..12).
_HALF_DAY = re.compile(r"\s*(上午|下午|中午|晚上|凌晨|早上|AM|PM)\s*", re.IGNORECASE)
_AFTERNOON = ("下午", "晚上", "pm")


def _parse_time_text(s: str) -> datetime:
    half = _HALF_DAY.search(s)
    if half:  # 下午2:07 -> 14:07, 上午12:30 -> 00:30, 中午12:10 -> 12:10, 中午1点 -> 13:00
        word = half.group(1).lower()
        out = _parse_time_text(s[: half.start()] + " " + s[half.end() :])
        if not 1 <= out.hour <= 12:
            raise ValueError(f"not a time ({TIME_HELP}): {half.group(1)} with an hour outside 1-12")
        if word in _AFTERNOON and out.hour < 12 or word == "中午" and out.hour < 11:
            out += timedelta(hours=12)
        elif word in ("上午", "凌晨", "早上", "am") and out.hour == 12:
            out -= timedelta(hours=12)
        return out
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        pass
    match = _DATE.match(s) or _COMPACT.match(s)
    if not match:
        raise ValueError(f"not a time ({TIME_HELP})")
    y, mo, d, h, mi, sec = match.groups()[:6]
    zone = match.group(7) if match.re is _DATE else None
    seconds = float(sec or 0)
    try:
        out = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(seconds), int(round(seconds % 1 * 1e6)))
    except ValueError as exc:  # 2025-13-01: "month must be in 1..12"
        raise ValueError(f"not a valid date ({exc})") from None
    if zone:
        out = datetime.fromisoformat(out.isoformat() + ("+00:00" if zone == "Z" else zone[:3] + ":" + zone[-2:]))
    return out


_PHONE_SPLIT = re.compile(r"[/／,，;；、]+|\s{2,}")
_PHONE_JUNK = re.compile(r"[\s\-－—()（）.·]+")


def phone(v: Any) -> str | None:
    """A phone number as offices type it (`138 8888 0001`, `+86 139…`, `１３７…`, `(0888)5123456`,
    two numbers `139…/0888-…`) as digits: the same number written two ways is one number (masking
    shows 138****0001 for both, and a search finds it). Text that is no number is kept as it is."""
    raw = text(v)
    if raw is None:
        return None
    out = []
    for part in _PHONE_SPLIT.split(unicodedata.normalize("NFKC", raw)):
        digits = _PHONE_JUNK.sub("", part)
        if digits.startswith("+"):
            digits = digits[1:]
        if re.fullmatch(r"(0086|86)1\d{10}", digits):
            digits = digits[-11:]
        elif re.fullmatch(r"(0086|86)0?[1-9]\d{8,10}", digits):  # a landline with the country code
            digits = "0" + digits.removeprefix("0086").removeprefix("86").lstrip("0")
        if not re.fullmatch(r"\d{5,12}", digits):
            return raw  # not a number we understand: kept as written
        out.append(digits)
    return "/".join(out) or None


def id_number(v: Any) -> str | None:
    """A resident ID number (身份证号), full-width digits and a small x folded. Excel keeps a long
    number typed into a cell as a number with 15 significant digits (5.30702198001011E+17): the
    last digits are gone, and storing what is left would store someone else's number, so such
    a cell is refused with the fix. Text is kept as written (a masked export, 620802********1234,
    comes back as it went out)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) >= 1e15:
        raise ValueError(
            f"an ID number stored as a number ({v:.6g}) has lost its last digits in Excel: "
            "format the column as text (设置单元格格式→文本) and enter the numbers again"
        )
    out = text(v)
    return unicodedata.normalize("NFKC", out).replace(" ", "").upper() if out else None


def boolean(v: Any) -> bool:
    return choice({True: ("true", "t", "yes", "y", "1", "是", "城镇"), False: ("false", "f", "no", "n", "0", "否", "农村")})(v)


def code(*lengths: int) -> Callable[[Any], str]:
    def parse(v):
        out = text(v)
        if not out.isdigit() or len(out) not in lengths:
            raise ValueError(f"must be {' or '.join(map(str, lengths))} digits")
        return out

    return parse


# --------------------------------------------------------------------------- vocabularies

GRID_KINDS = {
    "urban": ("城市", "城市网格", "城镇", "城镇网格", "综合", "综合网格", "社区网格"),
    "rural": ("农村", "农村网格", "村网格"),
    "dedicated": ("专属", "专属网格"),
}
DEDICATED_TYPES = {
    "school": ("学校",),
    "hospital": ("医院",),
    "park": ("园区", "公园"),
    "enterprise": ("企业",),
    "government": ("机关", "政府"),
    "market": ("市场",),
    "other": ("其他",),
}
HOUSEHOLD_TAGS = {
    "new_arrival": ("新迁入", "新入住", "新迁入户", "新入住户", "流入人口"),
    "left_behind": ("留守", "留守老人", "留守儿童", "留守妇女", "留守人员"),
    "major_change": ("重大变故", "家庭重大变故"),
    "hardship": ("特困", "困难", "特困户", "困难户", "低保户", "特困供养"),
    "unemployed": ("失业", "失业人员", "失业户"),
}
SOURCES = {
    "patrol": ("巡查", "网格员巡查", "网格员上报"),
    "resident": ("群众", "居民", "群众上报", "随手拍", "小程序"),
    "hotline": ("热线", "12345", "12345热线", "市民热线", "电话"),
    "police": ("公安", "110", "警情"),
    "open311": (),
    "operator": ("坐席", "值班员"),
    "import": ("导入",),
}
# The words 12345 systems and 综治 platforms use for a case's state.
STATUSES = {
    "received": ("接收", "待受理", "未受理", "新建", "待处理", "已登记", "登记"),
    "registered": ("立案", "受理", "已受理", "已立案"),
    "dispatched": ("派遣", "已派遣", "已派单", "派单", "已转办", "转办", "已交办", "交办", "已分派"),
    "in_progress": ("处置中", "办理中", "处理中", "正在办理", "在办", "已签收", "签收", "办理"),
    "verified": ("核查", "已核查", "待核查", "核查中", "待审核", "已反馈"),
    "closed": ("结案", "办结", "已办结", "已结案", "已完成", "完成", "已解决", "已处理", "已化解", "化解成功", "已关闭"),
    "followed_up": ("回访", "已回访", "已评价", "回访完成"),
    "returned": ("退回", "已退回", "退单"),
    "escalated": ("升级", "上报上级", "已上报"),
    "cancelled": ("作废", "撤销", "已撤销", "取消", "已取消", "无效", "重复件"),
}
CLOSED_STATUSES = ("closed", "followed_up")
INTENSITY = {0: ("无", "平稳"), 1: ("轻微", "一般"), 2: ("较激烈",), 3: ("激烈", "肢体冲突")}
PLACE_KINDS = {
    "key_person": ("重点人员", "重点人"),
    "dangerous_thing": ("危险物品", "危险物"),
    "sensitive_place": ("敏感场所", "敏感地", "重点场所"),
    "service_center": ("服务中心", "服务站"),
}
STAFF_ROLES = {
    "leader": ("网格长", "组长"),
    "fulltime": ("专职", "专职网格员", "网格员"),
    "parttime": ("兼职", "兼职网格员"),
    "mobile": ("流动", "流动网格员", "快递员", "外卖员", "骑手"),
}


def _read_pairs(path, first: str, second: str) -> dict[str, str]:
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as fh:
        return {r[first].strip(): r[second].strip() for r in csv.DictReader(fh) if r.get(first) and r.get(second)}


def shipped_category_aliases() -> dict[str, str]:
    """data/category_aliases.csv: common hotline wordings -> minor code."""
    return _read_pairs(CATEGORY_ALIASES_FILE, "alias", "minor_code")


def place_types() -> dict[str, str]:
    """data/place_types.csv: a place type as offices write it (学校, 加油站) -> the product's kind."""
    return _read_pairs(PLACE_TYPES_FILE, "type", "kind")


class Categories:
    """Resolves a category cell: minor code (0103), minor name (邻里纠纷), 大类-小类
    (矛盾纠纷-邻里纠纷), or an alias (噪音扰民) from data/category_aliases.csv and the
    category_alias table."""

    def __init__(self, categories: dict[str, dict], aliases: dict[str, str]):
        self.categories = categories
        self.by_name = {key(c["minor_name"]): code for code, c in categories.items()}
        self.by_pair = {key(f"{c['major_name']}-{c['minor_name']}"): code for code, c in categories.items()}
        self.aliases = {key(a): c for a, c in aliases.items() if c in categories}
        self.words = {c["minor_name"]: code for code, c in categories.items()} | {a: c for a, c in aliases.items()}

    def __call__(self, v: Any) -> str:
        raw = text(v)
        if raw.isdigit():
            found = raw.zfill(4)
        else:
            k = key(raw)
            parts = re.split(r"[-_/／>＞:：|·]+", k)
            found = self.by_name.get(k) or self.aliases.get(k) or self.by_pair.get(k)
            if found is None and len(parts) > 1:  # 大类-小类 with any separator: the minor part decides
                found = self.by_name.get(parts[-1]) or self.aliases.get(parts[-1])
        if found not in self.categories:
            near = suggest(raw.split("-")[-1], self.words)
            hint = f"{near} ({self.words[near]})" if near else None
            raise Unknown(
                "unknown incident category: use a minor code (0103), a minor name (邻里纠纷), 大类-小类, "
                "or add an alias (python -m geo import categories aliases.csv with columns alias,minor_code)",
                hint,
            )
        return found


def place_kind(types: dict[str, str]) -> Callable[[Any], str]:
    """A place type (学校, 加油站, 社区矫正人员 ...) -> kind, through data/place_types.csv."""
    kinds = choice(PLACE_KINDS)
    lookup = {key(t): k for t, k in types.items()}

    def parse(v):
        k = key(text(v))
        if k in lookup:
            return lookup[k]
        try:
            return kinds(v)
        except Unknown:
            pass
        raise Unknown(
            f"unknown place type; known: {'、'.join(list(types)[:12])} … (data/place_types.csv) or a kind "
            "(key_person, dangerous_thing, sensitive_place, service_center)",
            suggest(str(v), list(types)),
        )

    return parse
