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
    # a tag at the end of a clause, not only of the message ("低保是人社局管的吧 俺去问问")
    r"|吧(?=[\s，,。？?！!…]|$)|没错[吧吗]"
)
# a clause that reports a claim ("听说…", "网上说…", "规划里写着…")
_REPORTED = re.compile(
    r"听说|听人说|据说|网上说|有人说|人家说|都说|写着|规定了?|说是"
    r"|(?:规划|文件|政策|清单|专栏|上面|里面|新闻|报上)(?:里|上|中)?(?:说|讲|提到|写)"
)
_POINTS_BACK = re.compile(r"这么|这样|如此|这个说法|这话")
_CLAUSE = re.compile(r"[，,。；;！!？?\s]+")  # spoken text separates clauses by spaces too
# a figure as written, to show the claim back in the person's own words: Arabic digits, a
# Chinese numeral with what it counts (两千块, 十二年, 百分之二十) or with a magnitude (两千),
# never 百 in 老百姓 or 一块儿
_SHOWN = re.compile(
    r"百分之[零一二两三四五六七八九十百点]+"
    r"|\d+(?:\.\d+)?[万亿]?(?:周岁|小时|分钟|个月|[%％元岁倍年月天人次户套项个名所张场种周级块](?!儿))?"
    r"|[〇零一二两三四五六七八九十百千万点]{1,8}"
    r"(?:周岁|小时|分钟|个月|[%％元岁倍年户套名所张场种级次回]|块(?!儿))"
    # a round sum said without its unit ("一个月给两千", "八百"): a digit and a magnitude
    r"|[〇零一二两三四五六七八九十]+[十百千万][〇零一二两三四五六七八九十百千万]*"
)
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
_COUNT = re.compile(r"([〇零一二两三四五六七八九十\d]{1,3})\s*([种级次回])")
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


def claim_clauses(question: str) -> list[str]:
    """The clauses that state something to be confirmed: the one asking to confirm, and
    those that report what was heard."""
    clauses = [c for c in _CLAUSE.split(question) if c.strip()]
    if not CONFIRM.search(question):
        return []
    out = []
    for i, c in enumerate(clauses):
        if CONFIRM.search(c) or _REPORTED.search(c):
            # "…由市民政局牵头负责，对吗？": a bare tag confirms the clause before it, and so
            # does one that points back at it ("…12小时内到位，规划这么写的对吗")
            if i and (len(CONFIRM.sub("", c).strip()) <= 2 or _POINTS_BACK.search(c)):
                out.append(clauses[i - 1])
            out.append(c)
    return list(dict.fromkeys(out)) or clauses[-1:]


def unsupported(question: str, evidence: str, units: list[str], expand=None) -> list[str]:
    """What the question's claim clauses state that the evidence does not hold: figures (as
    written by the person) and the names of units (``expand`` adds the official name of a
    unit written in other words: 人社局 → 市人力资源社会保障局), in the order written."""
    out: list[str] = []
    for clause in claim_clauses(question):
        named = expand(clause) if expand else clause
        reported = bool(_REPORTED.search(clause))
        text = _REFERENCE.sub(" ", clause)
        for m in _SHOWN.finditer(text):
            shown = m.group(0).strip("，,.")
            if not shown:
                continue
            counted = _counted(shown)
            if counted is not None:  # 六种, 三级, 两次: what the number counts decides
                if counted not in _counts(evidence) and shown not in out:
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
        for unit in units:
            if unit in named and unit not in evidence and unit not in out:
                out.append(unit)
    return out
