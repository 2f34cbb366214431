"""A claim the question makes, checked against the evidence before the answer says yes.

"是不是一年给两千块？", "低保是市人社局牵头，对吗？", "听说要拖到二〇二〇年才弄完是吧": a person
who asks to confirm a figure or a department states it. When the records the answer quotes do not
hold that figure (in any notation, with its unit) or that department, the plan does not say what
the question says: the answer says so first and quotes what the plan does say, and it is not
counted as answered (the premise is false or unsupported).

Only the clauses that ask for confirmation count, so a person's own situation ("我今年62了，
是不是能领…") is not taken for a claim about the plan."""

from __future__ import annotations

import re

from . import numbers

# asking to confirm what the clause states
CONFIRM = re.compile(
    r"是不是|是否|对吗|对吧|对不对|对么|是吧|是吗|是么|真的吗|真的假的|真假|没错吧|属实|是这样吗"
    # "这个理解准确吗", "是这样规定的吗", "我说得对不", "没记错吧"
    r"|准确吗|正确吗|准不准|是这样[^，。？?！!]{0,4}吗|对不(?=[\s，,。？?！!…]|$)|[说理]解?得?对[吗不]"
    r"|没[记说]错[吧吗]?"
    # a tag at the end of a clause, not only of the message ("低保是人社局管的吧 俺去问问")
    r"|吧(?=[\s，,。？?！!…]|$)|没错[吧吗]"
)
# a clause that reports a claim ("听说…", "网上说…", "规划里写着…")
_BY_PLAN = r"(?:按|按照|照|根据|依据)(?:规划|文件|政策|规定)"  # "按规划，…"
_REPORTED = re.compile(
    r"听说|听人说|据说|网上说|有人说|人家说|都说|写着|规定了?|说是"
    r"|(?:规划|文件|政策|清单|专栏|上面|里面|新闻|报上)(?:里|上|中)?(?:说|讲|提到|写)"
    # a figure said as the plan's own ("按规划，临时救助最多给五万", "规划要求…"): a claim without a tag
    rf"|{_BY_PLAN}|(?:规划|文件)(?:要求|规定|定的|明确)"
)
# what counts as a claim without a tag: hearsay of a rule, or words said to be the plan's own
_HEARSAY = re.compile(
    r"听说|听人说|据说|网上说|说是|写着|(?:规划|文件|政策|清单|专栏)(?:里|上|中)?(?:说|讲|写|规定|要求|明确)"
    rf"|{_BY_PLAN}"
)
_ASKS = re.compile(r"几|多少|啥|什么|哪|怎么|咋|吗|么|[?？]")
_POINTS_BACK = re.compile(r"这么|这样|如此|这个说法|这话")
_CLAUSE = re.compile(r"[，,。；;！!？?\s]+")  # spoken text separates clauses by spaces too
# a figure as written, to show the claim back in the person's own words: Arabic digits, a
# Chinese numeral with what it counts (两千块, 十二年, 百分之二十) or with a magnitude (两千),
# never 百 in 老百姓 or 一块儿
_SHOWN = re.compile(
    r"百分之[零一二两三四五六七八九十百点]+|一半|[一二两三四五六七八九]成(?![员为立本果绩就长功效熟])"
    r"|\d+(?:\.\d+)?[万亿]?(?:周岁|小时|分钟|个月|[%％元岁倍年月天人次户套项个名所张场种周级块](?!儿))?"
    r"|[〇零一二两三四五六七八九十百千万点]{1,8}"
    r"(?:周岁|小时|分钟|个月|[%％元岁倍年户套名所张场种级次回]|块(?!儿))"
    # a round sum said without its unit ("一个月给两千", "八百"): a digit and a magnitude
    r"|[〇零一二两三四五六七八九十]+[十百千万][〇零一二两三四五六七八九十百千万]*"
)
_APPROXIMATE = re.compile(r"多|来|余|几|左右|上下|出头")
_NOT_A_SUM = re.compile(r"一块$")  # 一块 said alone is "together" (一块搞的), not one yuan
_ADMIN = set("县市省区镇乡村")
_AGE = re.compile(r"岁$")
# an age as a rule states it ("不满十八周岁的都算", "六十岁以上就能", "0到6岁"), not a person's own
_AGE_RULE = re.compile(r"(?:不满|未满|年满|满|超过|低于|[到至~～-])\s*$")
# "六十岁就能…", "七十岁起", "八十岁才给": an age said as the threshold of a rule
_AGE_RULE_AFTER = re.compile(
    r"^\s*(?:以上|以下|及以上|及以下|以内|之内|前|后|就能|就可以|就可|就给|就有|才能|才给|才有|起|开始)"
)
# references to the plan's own parts are not figures it states (分工14, 专栏5, 附件2, 第56项)
_REFERENCE = re.compile(
    r"(?:清单|分工|专栏|附件|第)\s*[\d〇零一二两三四五六七八九十百]+(?:项|个|部分)?"
)


# a count of kinds, grades or times (四种遗传病, 一级、二级残疾, 每年1次): the value with what it
# counts, compared as such (numbers.quantities leaves bare counts alone: "一种" is prose)
# and of places, people and things (两所卫生院, 5名全科医生, 一个村一场): the value with its unit
_COUNT = re.compile(
    r"(?<![〇零一二两三四五六七八九十百千万\d.])([〇零一二两三四五六七八九十\d]{1,3})\s*"
    r"([种级次回名所家张户套场座处])"
)
_COUNT_UNIT = {"回": "次"}


def _counted(shown: str) -> tuple[float, str] | None:
    m = _COUNT.fullmatch(shown)
    if not m:
        return None
    v = numbers.parse_chinese(m.group(1)) if not m.group(1).isdigit() else float(m.group(1))
    return None if v is None else (v, _COUNT_UNIT.get(m.group(2), m.group(2)))


def _counts(evidence: str) -> set[tuple[float, str]]:
    out = set()
    for m in _COUNT.finditer(evidence):
        c = _counted(m.group(0).replace(" ", ""))
        if c is not None:
            out.add(c)
    return out


# an open ask: a question that says what it wants to be told is no claim said with a rising tone
_OPEN_ASK = re.compile(
    r"几|多少|多长|多久|多大|啥|什么|哪|谁|怎么|怎样|咋|如何|吗|么|呢|能否|可否|是否|还是|有没有"
    r"|(.)[不没]\1|(?:不|没)\W*$"
)
# a terse line that says who leads: "分工8 文化体育 教育局牵头?", "孤儿养育保障 牵头 市人社局"
_LEAD_WORD = re.compile(r"牵头|主管|负责|归")


def stated(question: str) -> bool:
    """A terse statement of who leads, with no ask of its own (a hotline worker checking a
    unit): all of it is the claim, checked for its units, not its figures (a terse lookup's
    numbers are years, columns and IDs: "高中阶段毛入学率 15年 20年")."""
    return (
        not CONFIRM.search(question)
        and len(question) <= 30
        and not _OPEN_ASK.search(question)
        and not re.search(r"[。！!]", question)
        and bool(_LEAD_WORD.search(question))
    )


def tagged(question: str) -> bool:
    """Whether the question asks to confirm what it says: a tag (对吧, 是不是, 准确吗), or a
    terse statement of who leads."""
    return bool(CONFIRM.search(question)) or stated(question)


def claim_clauses(question: str) -> list[str]:
    """The clauses that state something to be confirmed: the one asking to confirm, and
    those that report what was heard or what the plan is said to say."""
    clauses = [c for c in _CLAUSE.split(question) if c.strip()]
    if stated(question):
        return [" ".join(clauses)]  # a terse statement: all of it is the claim
    is_tagged = bool(CONFIRM.search(question))
    out = []
    for i, c in enumerate(clauses):
        # "按规划，临时救助最多给五万": a bare attribution introduces the clause after it
        if _REPORTED.search(c) and len(_REPORTED.sub("", c).strip()) <= 1 and i + 1 < len(clauses):
            out.append(clauses[i + 1])
        if not is_tagged:
            # no tag: what was heard or said to be the plan's own is still a claim ("听说一年
            # 给两千，俺家能领不", "规划上写着每月三百，咋没人给"), unless the clause itself asks
            # ("规划里说一千个人要抽几份") or tells the person's story ("都说早来十分钟就好了")
            if _HEARSAY.search(c) and not _ASKS.search(c):
                out.append(c)
            continue
        if CONFIRM.search(c) or _REPORTED.search(c):
            # "…由市民政局牵头负责，对吗？": a bare tag confirms the clause before it, and so
            # does one that points back at it ("…12小时内到位，规划这么写的对吗")
            if i and (len(CONFIRM.sub("", c).strip()) <= 2 or _POINTS_BACK.search(c)):
                out.append(clauses[i - 1])
            out.append(c)
    return list(dict.fromkeys(out)) or (clauses[-1:] if is_tagged else [])


# offices people name that the plan never makes responsible for anything: a claim that one of
# them runs a service is one the plan does not hold (the plan's own units come from the index)
OTHER_OFFICES = re.compile(
    r"妇联|妇女联合会|工会|团委|共青团|红十字会|慈善总会|居委会|村委会|街道办|税务局|老龄办|计生协会"
)
# who pays, as people say it: "是市财政出的吧", "国家掏钱", "省里拿钱", "得自己掏"
_PAYERS = (
    r"中央|国家|省里|省级|省|市里|市级|市|区县|县区|区里|县里|县级|区|县|个人|自己|职工|单位|企业"
)
_PAYER = re.compile(
    # "是市财政出的", "由省、市、县区三级财政分担"
    rf"(?:是|由|归|都是|全是|全由)(?P<said>(?P<levels>(?:{_PAYERS})(?:[、和及与跟]\s*(?:{_PAYERS}))*)"
    r"(?:[两三四]级)?(?:财政|政府|这边|那边)?(?:全部|全额|一家|单独|共同)?"
    r"(?:出|掏|拿|负担|承担|分担|买单|兜底|拨|给)(?:的)?(?:钱|款|资金)?)"
    # "职工自己也得掏一份": who must pay
    rf"|(?P<said2>(?P<levels2>{_PAYERS})(?:也|还)?(?:得|要|需要)(?:出|掏|交|负担|承担)(?:一份|一部分|一点|些)?(?:钱)?)"
)
_LEVEL = {
    "中央": "中央", "国家": "中央", "省里": "省", "省级": "省", "省": "省", "市里": "市",
    "市级": "市", "市": "市", "区县": "县", "县区": "县", "区里": "县", "县里": "县",
    "县级": "县", "区": "县", "县": "县", "个人": "个人", "自己": "个人", "职工": "个人",
    "单位": "单位", "企业": "单位",
}  # fmt: skip
_FUNDING = re.compile(r"支出责任[：:]([^\n]*)")


def payers(evidence: str) -> set[str] | None:
    """Who the quoted records' 支出责任 make pay (中央, 省, 市, 县, 个人, 单位); None when they
    state no payer (a section, a box)."""
    said = " ".join(_FUNDING.findall(evidence))
    if not said:
        return None
    levels = set()
    if "县级以上" in said:
        levels |= {"县", "市", "省", "中央"}
    for word, level in (("中央", "中央"), ("省", "省"), ("县", "县")):
        if word in said:
            levels.add(level)
    if re.search(r"(?<![城都])市(?!场)", said):
        levels.add("市")
    if re.search(r"个人|职工|住户|自筹", said):
        levels.add("个人")
    if re.search(r"单位|企业", said):
        levels.add("单位")
    return levels


# one office alone said to lead ("就公安局一家牵头吧", "仅住保局牵头", "统计局单独牵头")
_SOLE = re.compile(
    r"(?:仅|只有|只由|光)[^，,。？?！!\s]{1,10}?(?:一家|单独|独自|自己)?(?:牵头|负责|管)"
    r"|(?:一家|单独|独自)(?:牵头|负责|管)"  # "就…一家牵头"; "低保就民政局管吧" names the one asked
)
_LEADS = re.compile(r"(?:牵头负责单位|责任单位)[：:]([^\n]*)")


def _several_lead(evidence: str) -> bool:
    """Whether the quoted records name more than one leading unit."""
    for m in _LEADS.finditer(evidence):
        if "、" in m.group(1).split("牵头")[0] or "分别" in m.group(1):
            return True
    return False


def fields_claimed(question: str) -> list[str]:
    """The item fields the question's claims speak of: who leads (a unit, an office, one said
    to lead alone) and who pays; the correction quotes them even when the answer did not."""
    clauses = " ".join(claim_clauses(question))
    out = []
    if OTHER_OFFICES.search(clauses) or _SOLE.search(clauses) or _LEAD_WORD.search(clauses):
        out.append("department")
    if _PAYER.search(clauses):
        out.append("funding")
    return out


def unsupported(
    question: str, evidence: str, units: list[str], expand=None, titles: tuple[str, ...] = ()
) -> list[str]:
    """What the question's claim clauses state that the evidence does not hold: figures (as
    written by the person) and the names of units (``expand`` adds the official name of a
    unit written in other words: 人社局 → 市人力资源社会保障局), one unit said to lead alone
    where several do, payers the 支出责任 does not name, and a record's name given to another
    record's number (``titles``), in the order written."""
    out: list[str] = []
    # untagged hearsay is checked for its figures only: "俺说是教育局，他非说是财政局…到底谁
    # 牵头" reports two versions and asks openly
    clauses = claim_clauses(question)
    if not clauses:
        return out
    is_tagged = tagged(question)
    terse = stated(question)  # a terse statement is read for its units, not its figures
    levels = payers(evidence)
    for clause in clauses:
        named = expand(clause) if expand else clause
        reported = bool(_REPORTED.search(clause))
        text = _REFERENCE.sub(" ", clause)
        for m in _SHOWN.finditer(text) if not terse else ():
            shown = m.group(0).strip("，,.")
            if not shown or _APPROXIMATE.match(text, m.end()) or _NOT_A_SUM.match(shown):
                continue  # "一百多块", "十来天", "一块搞的": no figure said as the plan's
            if shown.endswith("级") and text[m.start() - 1 : m.start()] in _ADMIN:
                continue  # 县一级的图书馆: a level of government, not a grade
            if text[m.start() - 1 : m.start()] == "每":
                continue  # 每千名老年人, 每万人口: the base of a rate, not a figure
            counted = _counted(shown)
            if counted is not None:  # 六种, 三级, 两次: what the number counts decides
                # a table states the unit once in its header: 床位数（张） … 35
                in_table = f"（{counted[1]}）" in evidence and counted[0] in numbers.values(
                    evidence
                )
                if counted not in _counts(evidence) and not in_table and shown not in out:
                    out.append(shown)
                continue
            if not numbers.quantities(shown):
                continue
            rule = bool(
                _AGE_RULE.search(text[: m.start()]) or _AGE_RULE_AFTER.search(text[m.end() :])
            )
            if not reported and not rule and _AGE.search(shown):
                continue  # "俺62岁了是不是能领": an age is the person's own, unless it is hearsay
            if numbers.unsupported_quantities(shown, evidence) and shown not in out:
                out.append(shown)
        if not is_tagged:
            continue
        for unit in units:
            # 附件2 writes the units after the first without 市 ("市文化广电新闻出版局、体育局")
            short = unit.removeprefix("市")
            if short in named and short not in evidence and unit not in out:
                out.append(unit)
        for m in OTHER_OFFICES.finditer(clause):
            if m.group(0) not in evidence and m.group(0) not in out:
                out.append(m.group(0))
        sole = _SOLE.search(clause)
        if sole and _several_lead(evidence) and sole.group(0) not in out:
            out.append(sole.group(0))
        if _REFERENCE.search(clause):  # "清单第48项是孤儿养育保障吧": the ID's own name?
            for title in titles:
                if title in clause and title not in evidence and title not in out:
                    out.append(title)
        for m in _PAYER.finditer(clause) if levels is not None else ():
            said = m.group("said") or m.group("said2")
            named = re.split(r"[、和及与跟]\s*", m.group("levels") or m.group("levels2"))
            if any(_LEVEL[n] not in levels for n in named) and said not in out:
                out.append(said)
    return out
