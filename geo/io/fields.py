"""What each layer reads: its attributes, how each is parsed and the headers offices use.

Why apart from the importer: these tables are the product's knowledge of office files (the
headers of 12345 ledgers, household registers, place lists and rosters); they change when a
new office's files arrive, while the import machinery does not.
"""

from __future__ import annotations

from geo.io import values as v
from geo.io.columns import Field

# Shapes of header names, for the columns no alias list holds (geo.io.columns.match).
ADDRESS = (r"(地址|住址|地点|位置|坐落)$",)  # 诉求地址, 事发位置, 房屋坐落
PHONE = (r"(电话|手机|联系方式)(号码?)?$",)
ID = (r"(身份证|证件号)",)
KIND_OF = (r"(分类|类型|类别)$",)

BOUNDARY = (
    Field(
        "code",
        v.code(6, 9, 12),
        aliases=("adcode", "行政区划代码", "区划代码", "统计用区划代码", "代码", "编码", "社区编码", "村编码", "乡镇编码"),
        label="区划代码",
        # 乡镇代码, 社区代码, 村居编码, XZQDM (国土调查 data), a name cut at 10 bytes (所属乡镇代)
        patterns=(r"(代码?|编码?|dm|code)$",),
    ),
    Field(
        "name",
        required=True,
        aliases=("名称", "区划名称", "单位名称", "社区名称", "村名称", "村名", "社区", "乡镇名称", "街道名称", "name_cn"),
        label="名称",
        patterns=(r"(名称?|mc|name)$",),
    ),
    Field("kind", aliases=("类型", "区划类型"), label="类型"),
    Field("urban", v.boolean, aliases=("城镇", "城乡"), label="城镇"),
    Field("parent_name", aliases=("所属乡镇", "所属街道", "所属乡镇街道", "乡镇街道", "乡镇", "街道"), label="所属乡镇（街道）"),
    Field("source", aliases=("来源", "数据来源"), label="来源"),
)
GRIDS = (
    Field(
        "code",
        v.code(15),
        aliases=("网格编码", "网格代码", "网格编号", "编码"),
        label="网格编码",
        patterns=(r"网格.*(代码?|编码?|编号?)$", r"^wg(bm|dm|bh)$"),
    ),
    Field("name", aliases=("网格名称", "名称"), label="网格名称", patterns=(r"网格.*名称?$", r"^wgmc$")),
    Field("kind", v.choice(v.GRID_KINDS), aliases=("网格类型", "类型"), label="网格类型"),
    Field("dedicated_type", v.choice(v.DEDICATED_TYPES), aliases=("专属类型", "专属网格类型"), label="专属类型"),
    Field("household_standard", v.integer(1, 100_000), aliases=("户数标准", "标准户数"), label="户数标准"),
)
HOUSEHOLDS = (
    Field("external_id", aliases=("户编号", "户籍编号", "户号", "住户编号", "房屋编号", "编号"), label="户编号"),
    Field(
        "address",
        required=True,
        aliases=("地址", "住址", "详细地址", "家庭住址", "现住址", "居住地址"),
        label="详细地址",
        patterns=ADDRESS,
    ),
    Field("head_name", aliases=("户主", "户主姓名", "姓名"), label="户主姓名", patterns=(r"^户主",)),
    Field("phone", v.phone, aliases=("电话", "联系电话", "手机", "手机号", "联系方式"), label="联系电话", patterns=PHONE),
    Field("id_number", aliases=("身份证号", "身份证号码", "公民身份号码", "证件号码"), label="身份证号（不保存）", patterns=ID),
    Field(
        "persons",
        v.integer(0, 100),
        default=1,
        aliases=("人数", "家庭人数", "人口数", "家庭人口", "户人口数", "人口", "在住人数"),
        label="人口数",
        patterns=(r"(人口|人数)",),
    ),
    Field("tags", v.tags(v.HOUSEHOLD_TAGS), default=(), aliases=("标签", "户类型", "户标签"), label="走访标签"),
)
NOT_STORED = {"households": ("id_number",)}  # recognised, said, and deliberately not kept (PIPL: only what is needed)
PLACES = (
    Field("external_id", aliases=("场所编号", "人员编号", "编号"), label="编号"),
    Field("kind", v.choice(v.PLACE_KINDS), aliases=("种类", "管理类别", "要素类别"), label="要素（人/物/地/服务）"),
    Field(
        "category",
        required=True,
        aliases=("类别", "分类", "场所类型", "类型", "人员类别", "物品类别", "场所类别"),
        label="场所类型",
        patterns=KIND_OF,
    ),
    Field("name", required=True, aliases=("名称", "场所名称", "单位名称", "姓名"), label="名称", patterns=(r"(名称|姓名)$",)),
    Field("tier", v.integer(1, 3), aliases=("管理等级", "管控等级"), label="管理等级"),
    Field("danger_grade", v.integer(0, 5), aliases=("危险等级", "危险性评估等级"), label="危险等级"),
    Field("id_number", v.id_number, aliases=("身份证号", "证件号码", "身份证号码"), label="身份证号", patterns=ID),
    Field("phone", v.phone, aliases=("电话", "联系电话", "手机"), label="联系电话", patterns=PHONE),
    Field("address", aliases=("地址", "详细地址", "场所地址"), label="地址", patterns=ADDRESS),
)
STAFF = (
    # required: grid_code, or grid_name where the roster names its grids (geo.io.records.staff)
    Field(
        "grid_code",
        v.code(15),
        aliases=("网格编码", "网格代码", "所属网格编码", "网格编号"),
        label="网格编码",
        patterns=(r"网格.*(代码?|编码?|编号?)$",),
    ),
    Field("grid_name", aliases=("网格名称", "所属网格", "网格", "所在网格"), label="网格名称", patterns=(r"网格.*名称?$",)),
    Field(
        "role",
        v.choice(v.STAFF_ROLES),
        required=True,
        aliases=("职务", "角色", "岗位", "类别", "人员类型", "网格员类型"),
        label="职务",
    ),
    Field("name", required=True, aliases=("姓名", "网格员姓名", "人员姓名"), label="姓名", patterns=(r"姓名$",)),
    Field("phone", v.phone, aliases=("联系电话", "电话", "手机", "手机号"), label="联系电话", patterns=PHONE),
)
CATEGORIES = (
    Field("major_code", v.code(2), required=True, aliases=("大类编码", "大类代码"), label="大类编码"),
    Field("major_name", required=True, aliases=("大类", "大类名称"), label="大类名称"),
    Field("minor_code", v.code(4), required=True, aliases=("小类编码", "小类代码", "编码"), label="小类编码"),
    Field("minor_name", required=True, aliases=("小类", "小类名称", "名称"), label="小类名称"),
    Field("department", required=True, aliases=("责任部门", "主责部门", "部门"), label="责任部门"),
    Field("time_limit", v.integer(1, 10_000), required=True, aliases=("时限", "办理时限"), label="时限"),
    Field(
        "time_unit",
        v.choice({"working_hours": ("工作时", "小时", "工作小时"), "working_days": ("工作日", "天", "日")}),
        required=True,
        aliases=("时限单位", "单位"),
        label="时限单位",
    ),
    Field("severity", v.integer(1, 5), required=True, aliases=("严重程度", "严重度"), label="严重程度"),
    Field("is_dispute", v.boolean, required=True, aliases=("矛盾纠纷", "是否纠纷"), label="是否矛盾纠纷"),
    Field("description", aliases=("说明", "描述"), label="说明"),
    # Published on Open311's anonymous reads (migration 0025); without the column a new
    # category stays unpublished and an existing one keeps its flag.
    Field("public", v.boolean, aliases=("公开", "是否公开", "对外公开"), label="是否对外公开"),
)
ALIASES = (
    Field("alias", required=True, aliases=("别名", "常用说法", "事件类型", "诉求类型"), label="别名"),
    Field("minor_code", v.code(4), aliases=("小类编码", "编码"), label="小类编码"),
    Field("minor_name", aliases=("小类", "小类名称"), label="小类名称"),
)


def incidents(categories: v.Categories) -> tuple[Field, ...]:
    return (
        Field(
            "external_id",
            aliases=("工单编号", "工单号", "案件编号", "事件编号", "受理编号", "编号"),
            label="工单编号",
            patterns=(r"(工单|案件|事件|受理|诉求|流水).*(编号|号|编码)$",),
        ),
        Field(
            "category",
            categories,
            required=True,
            aliases=("minor_code", "minor_name", "事件类型", "事件类别", "类别", "小类", "问题类型", "诉求类型", "问题分类"),
            label="事件类型",
            patterns=KIND_OF,  # 诉求分类, 工单类型, 事项类别 …: the column whose values are categories
        ),
        Field(
            "reported_at",
            v.timestamp,
            required=True,
            aliases=("受理时间", "上报时间", "来电时间", "登记时间", "发生时间", "创建时间", "时间"),
            label="受理时间",
            patterns=(r"(受理|来电|上报|登记|发生|创建|反映|投诉|提交|接收|报案|接警|立案|事发|发现)(时间|日期|时刻)$",),
        ),
        Field("title", aliases=("标题", "事件名称", "诉求标题"), label="标题", patterns=(r"标题$",)),
        Field(
            "description",
            aliases=("描述", "简述", "内容", "诉求内容", "事件描述", "问题描述", "来电内容"),
            label="描述",
            patterns=(r"(内容|描述|简述|详情)$",),
        ),
        Field(
            "source",
            v.choice(v.SOURCES),
            default="import",
            aliases=("来源", "渠道", "来源渠道"),
            label="来源",
            patterns=(r"(来源|渠道)",),
        ),
        # The four risk factors stay NULL (unknown) when the file does not give them: a ledger
        # without them is assessed from what it does say (migration 0040), not as "calm".
        Field("people_involved", v.integer(0, 1_000_000), aliases=("涉事人数", "涉及人数"), label="涉事人数"),
        Field("duration_days", v.integer(0, 36_500), aliases=("持续天数",), label="持续天数"),
        Field("conflict_intensity", v.choice(v.INTENSITY), aliases=("冲突程度",), label="冲突程度"),
        Field("behaviour_risk", v.integer(0, 3), aliases=("behavior_risk", "行为风险"), label="行为风险"),
        Field(
            "status",
            v.choice(v.STATUSES),
            default="received",
            aliases=("状态", "处理状态", "办理状态", "工单状态", "案件状态"),
            label="办理状态",
            patterns=(r"状态$",),
        ),
        Field(
            "closed_at",
            v.timestamp,
            aliases=("办结时间", "结案时间", "完成时间", "办结日期"),
            label="办结时间",
            patterns=(r"(办结|结案|完成|关闭|归档)(时间|日期)$",),
        ),
        Field(
            "address",
            aliases=("地址", "地点", "事发地址", "事发地点", "发生地点", "详细地址"),
            label="事发地址",
            patterns=ADDRESS,
        ),
    )
