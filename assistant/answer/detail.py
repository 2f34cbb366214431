"""The kind of figure a question asks for, and whether the evidence holds one.

"失业金能领几个月？", "高血压病人一年随访几回？", "报销比例是多少？": the right record can lack the
asked detail (the plan names the service, not its duration, frequency or rate). Then the answer
says exactly that and quotes what the record does say, instead of a passage that only looks like
an answer. A figure of the asked kind anywhere in the cited records counts as holding it."""

from __future__ import annotations

import re

from . import numbers

_CN = "〇零一二两三四五六七八九十百千"
# what a question asks to be told, by the kind of figure that answers it
ASKS = {
    "金额": re.compile(
        r"多少钱|多少元|几元|几块|多少块|金额(?:是|为|有)?多少|多少金额|给多少钱|发多少钱|能拿多少|能领多少钱|补多少|"
        r"补助多少|补贴多少|每[月年]多少"
        # "一年能领多少", "最多能贷多少": a sum given, lent or paid, not a count (多少个, 多少人)
        r"|(?:给|发|领|拿|贷|借)多少(?![个项人年岁天次回%％倍种户名所套成])"
    ),
    # "好几个月没收入", "这几年" tell a story; "领几个月", "多久" ask
    "期限": re.compile(
        r"(?<![好这那前近过头些\d〇零一二两三四五六七八九十])几(?:个月|年|天)|多少(?:个月|年|天)|多久|多长时间|期限|时限|年限"
    ),
    "次数": re.compile(
        r"(?<![好这那前近过头些\d〇零一二两三四五六七八九十])几(?:次|回)|多少(?:次|回)|频次|次数"
    ),
    # 比例 in an indicator's name ("人数比例") is no ask; 比例是多少 is
    "比例": re.compile(
        r"比例[^，。？?]{0,6}(?:多少|几)|百分之几|百分比是|多少[%％]|报销多少|报几成|几成"
    ),
    # how to get it: what to bring, where to go, how to apply (a plan states what is provided,
    # rarely how to apply for it); "咋办" alone asks what to do, not how to apply
    "办理流程": re.compile(
        r"(?:怎么|怎样|如何|咋)(?:申请|办理|申报|报销|去办|去领|领取|领|报)(?!名)"
        r"|(?:准备|带|交|提供|需要|要)(?:些|点)?(?:啥|什么|哪些)(?:材料|证件|证明|手续)"
        r"|(?:啥|什么|哪些)(?:材料|手续)|办理流程|申请流程|申请条件和流程"
        r"|(?:去|到)哪(?:儿|里|个地方)?(?:办|交|申请|申报|领|报|登记)"
        r"|在哪(?:儿|里)?(?:办|申请|申报|领|交)|哪个窗口|什么窗口"
    ),
}
# a procedure as the plan would write one: materials, a window, an application to an office
_PROCEDURE = re.compile(
    r"材料|窗口|流程|手续|申请表|经[^。；]{0,12}(?:审核|审批|核准)|向[^。；]{0,16}(?:提出申请|申请)"
)
# a duration or a frequency as the plan writes one: 5分钟内, 5×8小时, 每年…1次, 每月放映1场
_DURATION = re.compile(
    rf"[\d{_CN}]+\s*(?:个)?(?:月|年|天|日|周|小时|分钟|工作日)|[\d{_CN}]+\s*[×x]\s*\d+|[每按][年月周天日季]"
)
_TIMES = re.compile(rf"[\d{_CN}]+\s*[次场回轮]")


_SENTENCE = re.compile(r"(?<=[。！!？?])")


def ask_sentences(question: str) -> str:
    """The sentences that ask (those ending in a question mark, and the last one): "还说几天后
    出结果。" in a story is what happened, not what is asked."""
    sentences = [x for x in _SENTENCE.split(question) if x.strip()]
    asking = [x for x in sentences[:-1] if x.rstrip()[-1:] in "？?"]
    return "".join(asking + sentences[-1:])


def asked(question: str) -> str | None:
    """The kind of detail asked for (金额, 期限, 次数, 比例, 办理流程), or None."""
    text = ask_sentences(question)
    for kind, pattern in ASKS.items():
        if pattern.search(text):
            return kind
    return None


# an amount set against a standard: "不低于城市居民最低生活保障标准", "按…标准的差额发给"
_RELATIVE = re.compile(r"(?:不低于|不高于|不超过|参照|按照?)[^。；，]{0,24}标准|标准的?差额")
_FREE = re.compile(r"免费|免除|免收|不收费|无偿|全额资助|全额补助")


def holds(evidence: str, kind: str) -> bool:
    """Whether the evidence states a figure of that kind."""
    if kind == "期限":
        return bool(_DURATION.search(evidence))
    if kind == "次数":
        return bool(_TIMES.search(evidence))
    if kind == "办理流程":
        return bool(_PROCEDURE.search(evidence))
    if kind == "比例":
        # %, 百分之, 1/3, 九成, or a rate in a table whose header holds the unit (死亡率（1/10万）)
        return bool(re.search(r"[%％]|百分之|\d成|\d+/\d+|率", evidence)) and bool(
            re.search(r"\d", evidence)
        )
    # an amount in 元, or as a multiple of one (最高支付限额为居民人均可支配收入的8倍以上); "free"
    # answers "how much does it cost" too (学费要花多少 → 15年免费教育)
    if _FREE.search(evidence) or _RELATIVE.search(evidence):
        return True
    return any(q.unit in ("元", "倍") for q in numbers.quantities(evidence))


# the achieved or present state of what the plan only sets a target or a standard for: "实际达到
# 多少", "截至今年", "现在建成几个了", "完成了没有", "俺们区现在有几家" (the plan, of 2018, states
# the 2015 base and the 2020 target, never what was done since)
_ACTUAL = re.compile(
    r"实际|截至|截止到?"
    r"|(?:已经|到底|现在|目前|如今|眼下|至今|到现在)[^，,。？?！!]{0,8}"
    r"(?:达到|实现|完成|建成|建了|建起|覆盖了|发了|发放了|改造了|改了)[^，,。？?！!]{0,6}(?:多少|几|没|吗|么)"
    r"|(?:达到|实现|完成|达标)(?:了没有?|了吗|没有|没)"
    r"|(?:现在|目前|如今|眼下|今年|至今)[^，,。？?！!]{0,10}(?:一共|总共|共)?有(?:多少|几)[家所个座套户处名人张]"
    # "现在…到多少了", "现在到底是多少": a value that has moved since
    # ("今年二十好几了", "七十几了" tell an age: an approximate 几 is no ask)
    r"|(?:现在|目前|如今|眼下|今年|至今|到现在)[^，,。？?！!]{0,12}(?:多少|(?<![好十])几)[^，,。？?！!]{0,3}了"
    r"|(?:现在|目前|如今|眼下)[^，,。？?！!]{0,10}到底(?:是)?(?:多少|几)"
)
# what the plan itself reports as done: the eleventh plan's period and its 2015 figures
_REPORTED_PERIOD = re.compile(r"十二五|2015|二〇一五|一五年")


def asks_actual(question: str) -> bool:
    """Whether the question asks what was achieved or is the case now, not what the plan sets."""
    text = ask_sentences(question)
    return bool(_ACTUAL.search(text)) and not _REPORTED_PERIOD.search(text)
