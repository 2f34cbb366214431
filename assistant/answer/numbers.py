"""Numbers as people and models write them: 1120, 1,200, 八百, 九千六百, 捌佰, 两万, 2.4万,
百分之九十九, 99%. Every notation becomes one value, so a check compares values, not spellings.

Linear in the text's length: one regex pass with bounded alternatives, no backtracking."""

from __future__ import annotations

import re

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


_ID_NUMERAL = re.compile(rf"(清单|分工|专栏|第)\s*([{_CN}]{{1,6}})(?=项|部分|[^{_CN}]|$)")


def arabic_ids(text: str) -> str:
    """清单第五十六项 → 清单第56项, 专栏十三 → 专栏13: ID references in Arabic numerals."""

    def repl(m: re.Match) -> str:
        v = parse_chinese(m.group(2))
        return f"{m.group(1)}{int(v)}" if v is not None and v == int(v) else m.group(0)

    return _ID_NUMERAL.sub(repl, text)
