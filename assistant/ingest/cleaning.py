"""Text normalisation shared by the ingestion steps: extracted cells and lines to clean Chinese text."""

from __future__ import annotations

import re

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018-\u201d\u2014\u2026"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])[ \t\u00a0]+|[ \t\u00a0]+(?=[{_CJK}])")
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）"}
_HALF_PUNCT_NEAR_CJK = re.compile(rf"(?<=[{_CJK}%\d])[,;:()]|[,;:()](?=[{_CJK}])")
TAGS = re.compile(r"</?p\s*>", re.I)
CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
CN_NUMERAL = "零〇一二两三四五六七八九十百"


def clean_text(text: str) -> str:
    """Normalise one extracted cell: tags gone, layout spaces beside CJK gone, CJK punctuation."""
    text = TAGS.sub("", text)
    text = _SPACE_NEAR_CJK.sub("", text.strip())
    text = _HALF_PUNCT_NEAR_CJK.sub(lambda m: _HALF_TO_FULL[m.group(0)], text)
    return re.sub(r"\s{2,}", " ", text)


def cjk_only(text: str) -> str:
    return "".join(CJK_CHAR.findall(text))


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def cn_to_int(numeral: str) -> int:
    """一 → 1, 十五 → 15, 二十 → 20, 一百零三 → 103; Arabic digits pass through."""
    if numeral.isdigit():
        return int(numeral)
    total, current = 0, 0
    for ch in numeral:
        if ch in CN_DIGITS:
            current = CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            raise ValueError(f"not a Chinese numeral: {numeral}")
    return total + current
