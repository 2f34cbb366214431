"""What a question asks for (amount, who, who pays, which unit, a list, an indicator…) and
what it names (domains, units, years, places). Shared by retrieval and the answer composer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .documents import DOMAINS

INTENT_PATTERNS: dict[str, re.Pattern] = {
    "amount": re.compile(
        r"多少钱|多少元|几元|金额|标准是多少|标准多少|补助多少|补贴多少|给多少|拿多少|领多少|交多少|"
        r"报销|比例|多少|几档|几次|多久|多长时间|几分钟|几年|几套|几个人|下限|上限|最少|最高|不低于|费用|"
        r"要钱|收费|花钱|免费|门票|工本费"
    ),
    "eligibility": re.compile(
        r"哪些人|什么人|谁能|谁可以|能不能|可以申请|能申请|对象|条件|符合|适用|面向|针对|给谁|给哪些|"
        r"哪些孩子|什么样的|多大|年满|多少岁|几岁|指的是|是指"
    ),
    "funding": re.compile(
        r"谁出|谁负担|谁承担|谁掏|谁缴|谁来出|谁付|钱由|费用由|支出责任|分担|负担|出钱|缴费"
    ),
    "department": re.compile(
        r"哪个部门|哪些部门|什么部门|哪个单位|哪些单位|哪个局|牵头|负责单位|谁负责|谁管|归谁|谁来管|"
        r"找谁|去哪|责任单位|主管"
    ),
    "list": re.compile(
        r"哪些项目|哪几项|哪些服务|有哪些|包括哪|几个服务项目|多少个服务项目|多少项|几项|几个领域|哪些"
    ),
    # asks which services / help exist: the service list (附件1) is the plan's own enumeration
    "services": re.compile(
        r"(哪些|什么|哪几种|哪几项)(免费的?|的)?(服务|资助|帮助|补贴|补助|待遇|保障|优惠|福利|救助)|"
        r"能(得到|享受|领|拿)(哪些|什么)"
    ),
    "procedure": re.compile(
        r"怎么(办理|补办|提取|申请|填|换证|注册|开具|预约|缴纳)|如何(办理|申请|提取|补办)|"
        r"流程|手续|需要.{0,4}材料|带什么|去哪.{0,2}办"
    ),
    "task": re.compile(r"任务|分工|责任单位"),
    "indicator": re.compile(
        r"指标|2015年|2020年|目标|毛入园率|巩固率|入学率|失业率|寿命|死亡率|覆盖率|合格率|人次|阅读率"
    ),
    "deadline": re.compile(r"什么时候|哪年|何时|截止|期限|到哪一年|几时"),
    "document": re.compile(
        r"文号|印发|发文|哪天发|哪天印|发布单位|哪个单位发|谁发的|制定依据|根据哪|附件|通知|规划期"
        # the plan itself: its name, its period, when it came out ("规划管到哪一年", "这文件是
        # 哪年发的", "规划的全称"), not a standard inside it ("规划里孤儿标准什么时候提高")
        r"|(?:规划|文件)(?:的|是|是在|在|一共|总共|从)?(?:全称|名称|标题|叫什么|叫啥|有效期|执行期"
        r"|管到|管几年|到哪一?年|哪几年|哪一?年|哪天|什么时候|啥时候|何时|几月)"
    ),
}

# words of a domain that people use without the 基本… prefix
_DOMAIN_WORDS = {d: [d, d.removeprefix("基本")] for d in DOMAINS}
_DOMAIN_WORDS["残疾人基本公共服务"].append("残疾人公共服务")

_YEAR = re.compile(r"(?<!\d)(20\d\d|19\d\d)(?!\d)\s*年?")  # not inside a phone number
# five-year plan periods after this one (十三五 = 2016–2020)
LATER_PLANS = ("十四五", "十五五", "十六五")
# Places that are not Jinan (provinces and larger cities): the plan speaks for Jinan only.
OTHER_PLACES = tuple(
    [
        "北京",
        "上海",
        "天津",
        "重庆",
        "广州",
        "深圳",
        "杭州",
        "南京",
        "武汉",
        "成都",
        "西安",
        "青岛",
        "烟台",
        "潍坊",
        "淄博",
        "济宁",
        "泰安",
        "临沂",
        "德州",
        "聊城",
        "滨州",
        "菏泽",
        "枣庄",
        "日照",
        "威海",
        "东营",
        "苏州",
        "郑州",
        "长沙",
        "沈阳",
        "大连",
        "哈尔滨",
        "长春",
        "石家庄",
        "太原",
        "合肥",
        "福州",
        "厦门",
        "南昌",
        "南宁",
        "昆明",
        "贵阳",
        "兰州",
        "西宁",
        "银川",
        "乌鲁木齐",
        "拉萨",
        "呼和浩特",
        "海口",
        "香港",
        "澳门",
        "台湾",
        "河北",
        "河南",
        "江苏",
        "浙江",
        "广东",
        "湖北",
        "湖南",
        "四川",
        "陕西",
        "安徽",
        "福建",
        "江西",
        "辽宁",
        "吉林",
        "黑龙江",
        "云南",
        "贵州",
        "甘肃",
        "青海",
        "海南",
        "广西",
        "内蒙古",
        "新疆",
        "西藏",
        "宁夏",
        "山西",
    ]
)


# words that ask about an attribute rather than name a subject ("目标呢？", "标准呢？")
ATTRIBUTE_WORDS = frozenset(
    [
        "目标",
        "标准",
        "对象",
        "部门",
        "单位",
        "比例",
        "金额",
        "条件",
        "年",
        "2015",
        "2020",
        "2015年",
        "2020年",
        "多少",
        "牵头",
        "负责",
        "资助",
        "补助",
        "费用",
        "钱",
        "谁",
        "哪个",
        "什么",
        "时候",
        "要求",
        "范围",
        "服务",
        "内容",
        "情况",
        "规定",
        "政策",
        "支出",
        "责任",
    ]
)


@dataclass
class Intent:
    kinds: set[str] = field(default_factory=set)
    domains: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    # another level of government whose own list or standard is asked for ("国家层面的清单",
    # "山东省的低保标准"): each as the level's word with the two characters after it
    levels: list[str] = field(default_factory=list)
    later_plans: list[str] = field(default_factory=list)
    # the field of a service item the question asks for, by the learned model (with confidence)
    asked: str | None = None
    asked_p: float = 0.0

    @property
    def field_question(self) -> bool:
        """Asks for a field of a service item (amount, who, who pays, which unit)."""
        return bool(self.kinds & {"amount", "eligibility", "funding", "department"})

    @property
    def out_of_period(self) -> list[int]:
        """Years after the plan's period (2016–2020) that the question asks about."""
        return [y for y in self.years if y > 2020]


def detect(question: str, units: list[str]) -> Intent:
    q = question.replace(" ", "")
    it = Intent()
    for kind, pat in INTENT_PATTERNS.items():
        if pat.search(q):
            it.kinds.add(kind)
    for dom, words in _DOMAIN_WORDS.items():
        if any(w in q for w in words):
            it.domains.append(dom)
    named = {}
    for u in units:
        short = u.removeprefix("市")
        if u in q or (len(short) >= 2 and short in q):
            named[u] = q.find(u) if u in q else q.find(short)
    # in the order the question names them: the same question always reads the same way
    it.units = sorted(named, key=lambda u: (named[u], u))
    it.years = [int(m.group(1)) for m in _YEAR.finditer(q)]
    it.places = [p for p in OTHER_PLACES if p in q and not _jinan_context(q, p)]
    it.later_plans = [p for p in LATER_PLANS if p in q]
    it.levels = [q[m.start(1) : m.end(1) + 2] for m in _OTHER_LEVEL.finditer(q)]
    if "list" in it.kinds and it.units and "department" in it.kinds:
        it.kinds.discard(
            "department"
        )  # "市残联牵头的项目有哪些" lists items, it does not ask who leads
    return it


# a level of government and, a few words on, what it would set: a list, a standard, a target.
# Not after 比/按/达到/符合… ("不低于国家标准", "达到国家三级"): those compare Jinan's with it.
_OTHER_LEVEL = re.compile(
    r"(?<![比按照于到达参与和及合])(国家|全国|中央|国务院|山东省|山东|全省|省里|省级|省定|省上|省政府)"
    r"(?:层面|级别|那边|那块|那个|出台|定|发|规定)?的?[^，,。？?！!\s]{0,10}?(清单|标准|目标|指标|规划)"
)


def _jinan_context(q: str, place: str) -> bool:
    """'山东' or a district name inside a Jinan phrase is not another place, nor is where the
    person comes from ("俺是河南过来的", "老家在潍坊", "外地户口，河南的"): they ask about here."""
    if place in {"山东"} or f"济南{place}" in q:
        return True
    origin = re.compile(
        rf"(?:从|来自|老家(?:是|在)?|户口(?:是|在)|户籍(?:是|在)|俺是|我是|咱是){place}"
        rf"|{place}[^，,。？?！!]{{0,3}}(?:来的|过来|人[，,。 ]|人$|户口|户籍|老家)"
    )
    return bool(origin.search(q))
