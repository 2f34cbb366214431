"""Readable cards for records: plain text for the terminal, Markdown for the page, JSON."""

from __future__ import annotations

import difflib
import re

from .documents import CN_NUM, AnyRecord, Box, ServiceItem, indicator_line


def card_text(rec: AnyRecord) -> str:
    head = f"【{rec.id}】{rec.readable}"
    lines = [head, "─" * 24]
    if isinstance(rec, ServiceItem) and len(rec.rows) > 1:
        base = [f for f in rec.fields() if f[0] not in {"服务对象", "服务指导标准", "支出责任"}]
        lines += [f"{k}：{v}" for k, v in base[:3]]
        for i, row in enumerate(rec.rows, 1):
            lines += [
                f"服务对象（{i}）：{row.target}",
                f"服务指导标准（{i}）：{row.standard}",
                f"支出责任（{i}）：{row.funding}",
            ]
        lines.append(f"牵头负责单位：{rec.lead}")
    elif isinstance(rec, Box):
        lines.append(f"专栏：专栏{rec.number} {rec.title}")
        lines += [f"· {indicator_line(i)}" for i in rec.indicators]
        lines += [f"· {d.domain}：{d.items}（{d.count}）" for d in rec.directory]
        lines += [f"· {r.name}：{r.text}" for r in rec.rows]
    else:
        lines += [f"{k}：{v}" for k, v in rec.fields()]
    lines.append(f"出处：{' › '.join(rec.path)}")
    return "\n".join(lines)


def card_json(rec: AnyRecord) -> dict:
    data = rec.model_dump()
    data.update(title=rec.title, text=rec.text, readable=rec.readable)
    return data


def normalize_id(raw: str) -> str:
    """Accept the ways people type an ID: 清单56, 清单第56项, 专栏 7, 章节三(五)."""
    s = re.sub(r"\s+", "", raw).replace("(", "（").replace(")", "）")
    if m := re.fullmatch(r"(清单|分工|专栏)[-－—]?第?0*(\d+)项?", s):
        return f"{m.group(1)}-{m.group(2)}"
    if m := re.fullmatch(rf"章节[-－—]?([{CN_NUM}]+(?:（[{CN_NUM}]+）)?|序言)", s):
        return f"章节-{m.group(1)}"
    return s


def nearest_ids(raw: str, ids: list[str], n: int = 3) -> list[str]:
    key = normalize_id(raw)
    close = difflib.get_close_matches(key, ids, n=n, cutoff=0.3)
    return close or ids[:n]
