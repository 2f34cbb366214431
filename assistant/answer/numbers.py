"""Numbers as people and models write them: 1120, 1,200, 八百, 九千六百, 捌佰, 两万, 2.4万,
1千5百, 一点五万, 百分之九十九, 99%, 九成. Every notation becomes one value, so a check compares
values, not spellings; quantities() also keeps what the value counts (元 or 美元, %, 岁, an
ordinal such as 第56项) and its period (每月 or 每年).

Linear in the text's length: one regex pass with bounded alternatives, no backtracking."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGIT = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7,
    "八": 8, "捌": 8, "九": 9, "玖": 9,
}  # fmt: skip
_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}
_CN = "".join(_DIGIT) + "".join(_SMALL) + "".join(_BIG)
# a number worth checking: Arabic (with separators, decimals, a 万/亿 multiplier), or a Chinese
# numeral with a magnitude (八百, 十五) or a unit after it (三岁, 五倍); 百分之… is a percentage
_NUMBER = re.compile(
    rf"(?P<pct>百分之)?(?:(?P<arabic>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<mult>[万萬亿])?"
    rf"|(?P<cn>[{_CN}点]{{1,20}}))(?P<unit>[%％元岁倍年月天人次户套项个名所张])?"
)


def parse_chinese(text: str) -> float | None:
    """八百 → 800, 九千六百 → 9600, 一万二 → 12000, 十五 → 15, 三点五 → 3.5; None if not a number."""
    if "点" in text:
        whole, _, frac = text.partition("点")
        scale = 1
        while frac and frac[-1] in _BIG | _SMALL:  # 一点五万 = 1.5 × 10,000
            scale *= (_BIG | _SMALL)[frac[-1]]
            frac = frac[:-1]
        if scale > 1:
            v = parse_chinese(f"{whole}点{frac}")
            return None if v is None else v * scale
        w = parse_chinese(whole) if whole else 0
        digits = [_DIGIT.get(c) for c in frac]
        if w is None or not digits or None in digits:
            return None
        return w + float("0." + "".join(str(d) for d in digits))
    total, section, digit = 0, 0, None
    last_unit, zero = None, False
    for ch in text:
        if ch in _DIGIT:
            if digit is not None and (digit != 0 or last_unit is None):
                return _positional(text)  # digits in a row (二〇二〇): read positionally
            digit = _DIGIT[ch]
            zero = zero or (digit == 0 and last_unit is not None)  # 一百零八: 8 is units
        elif ch in _SMALL:
            unit = _SMALL[ch]
            section += (1 if digit is None else digit) * unit
            digit, last_unit, zero = None, unit, False
        elif ch in _BIG:
            section += digit or 0
            total += (section or 1) * _BIG[ch]
            section, digit, last_unit, zero = 0, None, _BIG[ch], False
        else:
            return None
    if digit is not None:
        # 一万二 = 12000, 三百五 = 350: a trailing digit is one order below the last unit
        short = last_unit and last_unit >= 100 and not zero
        section += digit * (last_unit // 10 if short else 1)
    return float(total + section)


def _positional(text: str) -> float | None:
    digits = [_DIGIT.get(c) for c in text]
    return None if None in digits else float("".join(str(d) for d in digits))


def values(text: str) -> set[float]:
    """Every number in the text worth checking, as values (percent signs kept apart)."""
    out: set[float] = set()
    for m in _NUMBER.finditer(text or ""):
        if m.group("arabic"):
            v = float(m.group("arabic").replace(",", ""))
            if m.group("mult"):
                v *= _BIG[m.group("mult")]
        else:
            cn = m.group("cn")
            magnitude = any(c in _SMALL or c in _BIG for c in cn)
            amount_unit = m.group("unit") in {"元", "%", "％", "倍", "岁"}
            if not (magnitude or m.group("pct") or amount_unit or len(cn) >= 2):
                continue  # 一 in 统一 or 一年, 三 in 三项: words, not claims
            v = parse_chinese(cn)
            if v is None:
                continue
        out.add(round(v, 4))
    return out


def unsupported(claim: str, evidence: str) -> set[float]:
    """Values the claim states that the evidence does not (in any notation)."""
    return values(claim) - values(evidence)


# 一 that begins a word (清单一共, 专栏一直, 分工一样) is no ID's number
_ONE_WORD = "共起样般直些下定切旦再同并道块律致概贯向度时会点番体边"
_ID_NUMERAL = re.compile(
    rf"(清单|分工|专栏|第)\s*(?!一[{_ONE_WORD}])([{_CN}]{{1,6}})(?=项|部分|[^{_CN}]|$)"
)


def arabic_ids(text: str) -> str:
    """清单第五十六项 → 清单第56项, 专栏十三 → 专栏13: ID references in Arabic numerals."""

    def repl(m: re.Match) -> str:
        v = parse_chinese(m.group(2))
        return f"{m.group(1)}{int(v)}" if v is not None and v == int(v) else m.group(0)

    return _ID_NUMERAL.sub(repl, text)


# ---------------------------------------------------------------- quantities with their units

_MAGNITUDE = "十百千万亿拾佰仟萬"
# a lone Arabic digit beside a Chinese magnitude is read as a Chinese digit: 1千5百 = 一千五百
_MIXED = re.compile(rf"(?<![\d.,])\d(?=[{_MAGNITUDE}])|(?<=[{_MAGNITUDE}])\d(?![\d.,])")
_QUANTITY = re.compile(
    rf"(?P<ord>第|序号[:：]?\s?|清单|专栏|分工|附件)?(?P<pct>百分之)?"
    rf"(?:(?P<arabic>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<mult>[万萬亿千仟百佰]{{0,3}})"
    rf"|(?P<cn>[{_CN}点]{{1,20}}))(?P<cheng>成(?![员为立本果绩就长功效熟]))?\s?"
    r"(?P<unit>个百分点|周岁|块钱|美元|美金|欧元|日元|英镑|港元|港币|韩元|小时|分钟|[%％元块圆岁倍场]"
    r"|项|部分|条|章|节|款)?"
)
_UNITS = {
    "元": "元", "块": "元", "块钱": "元", "圆": "元", "美元": "美元", "美金": "美元",
    "欧元": "欧元", "日元": "日元", "英镑": "英镑", "港元": "港元", "港币": "港元", "韩元": "韩元",
    "%": "%", "％": "%", "个百分点": "%", "周岁": "岁", "岁": "岁", "倍": "倍",
    "小时": "小时", "分钟": "分钟", "场": "场",
}  # fmt: skip
_ORDINAL_UNITS = {"项", "部分", "条", "章", "节", "款"}
_PER_BEFORE = re.compile(r"每[人户名生]?每?([年月日天周])[^，。；,;、\d]{0,6}$")
_PER_AFTER = re.compile(r"^\s?[/每]\s?([年月日天周])")
_MULT = {
    "万": 10_000,
    "萬": 10_000,
    "亿": 100_000_000,
    "千": 1000,
    "仟": 1000,
    "百": 100,
    "佰": 100,
}


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str | None = None  # 元, 美元, %, 岁, 倍, "ord" (第56项, 序号：56, 专栏13) or unknown
    per: str | None = None  # 年, 月, 日, 周: 每月1120元
    base: float | None = None  # 519 of 519万人, where a table says 参保人数（万人）：519
    scale: str = ""  # 万人


def quantities(text: str) -> list[Quantity]:
    """Every number worth checking, with what it counts: 每月1120元 is (1120, 元, 月), 第56项
    (56, ord), 百分之十五 (15, %), 1120美元 (1120, 美元)."""
    text = _MIXED.sub(lambda m: "〇一二三四五六七八九"[int(m.group())], text or "")
    text = text.replace("一半", "五成")  # half is 50 %, said as people say it (same length)
    out: list[Quantity] = []
    for m in _QUANTITY.finditer(text):
        unit = m.group("unit")
        ordinal = bool(m.group("ord")) and (unit in _ORDINAL_UNITS or unit is None)
        base, scale = None, ""
        if m.group("arabic"):
            v = base = float(m.group("arabic").replace(",", ""))
            for ch in m.group("mult"):
                v *= _MULT[ch]
            if m.group("mult"):
                scale = m.group("mult") + text[m.end("mult") : m.end("mult") + 1]
            else:
                base = None
        else:
            cn = m.group("cn")
            magnitude = any(c in _SMALL or c in _BIG for c in cn)
            keep = magnitude or m.group("pct") or m.group("cheng") or unit in _UNITS
            if not (keep or len(cn) >= 2 or (ordinal and unit)):
                continue  # 一 in 统一 or 一年, 三 in 三项: words, not claims
            v = parse_chinese(cn)
            if v is None:
                continue
        kind = _UNITS.get(unit or "")
        if m.group("pct") or m.group("cheng"):
            kind = "%"
            v = v * 10 if m.group("cheng") else v
        if ordinal:
            kind = "ord"
        per = _PER_BEFORE.search(text[max(0, m.start() - 10) : m.start()])
        per = per or _PER_AFTER.search(text[m.end() : m.end() + 4])
        period = per.group(1).replace("天", "日") if per else None
        out.append(Quantity(round(v, 4), kind, period, base, scale))
    return out


def _supports(claim: Quantity, fact: Quantity, evidence: str) -> bool:
    # 519万人 where the table header says （万人） and the cell 519
    scaled = bool(claim.scale) and claim.base == fact.value and claim.scale in evidence
    if claim.value != fact.value and not scaled:
        return False
    if "ord" in (claim.unit, fact.unit):
        return claim.unit == fact.unit  # 第56项 is no amount of 56元, and 56元 no 第56项
    if claim.unit and fact.unit and claim.unit != fact.unit:
        return False  # 1120美元 is not 1120元, 18元 not 18岁
    return not (claim.per and fact.per and claim.per != fact.per)  # 每年1120元 is not 每月


def unsupported_quantities(claim: str, evidence: str) -> list[Quantity]:
    """Quantities the claim states that the evidence does not, compared with their units and
    periods; a claim that leaves either open is read leniently."""
    facts = quantities(evidence)
    return [c for c in quantities(claim) if not any(_supports(c, f, evidence) for f in facts)]
