"""Readable cards for records: plain text for the terminal, Markdown for the page, JSON."""

from __future__ import annotations

import difflib
import re

from .documents import CN_NUM, AnyRecord, Box, ServiceItem, Task, indicator_line


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


def card_markdown(rec: AnyRecord) -> str:
    """The whole record for the page: every field labelled, the path it sits at."""
    lines = [f"### {rec.readable}", f"<small>{' › '.join(rec.path[1:])}</small>", ""]
    if isinstance(rec, ServiceItem) and len(rec.rows) > 1:
        lines += [f"**序号**：{rec.number}　**领域**：{rec.domain}", ""]
        for i, row in enumerate(rec.rows, 1):
            lines += [
                f"**服务对象（{i}）**：{row.target}",
                f"**服务指导标准（{i}）**：{row.standard}",
                f"**支出责任（{i}）**：{row.funding}",
                "",
            ]
        lines.append(f"**牵头负责单位**：{rec.lead}")
    elif isinstance(rec, Box):
        lines += [f"- {indicator_line(i)}" for i in rec.indicators]
        lines += [f"- **{d.domain}**：{d.items}（{d.count}）" for d in rec.directory]
        lines += [f"- **{r.name}**：{r.text}" for r in rec.rows]
    else:
        for label, value in rec.fields():
            lines += [f"**{label}**：{value}", ""]
    return "\n".join(lines)


def copy_text(rec: AnyRecord) -> str:
    """A ready-to-read answer for the hotline, with its citation and the plan's period."""
    src = f"根据《济南市推进基本公共服务均等化“十三五”规划》（济政发〔2018〕5号）{rec.readable}"
    if isinstance(rec, ServiceItem):
        body = (
            f"：服务对象为{rec.target.rstrip('。')}；服务指导标准为{rec.standard.rstrip('。')}；"
            f"支出责任：{rec.funding.rstrip('。')}；牵头负责单位：{rec.lead}。"
        )
    elif isinstance(rec, Task):
        body = f"：{rec.task.rstrip('。')}；责任单位：{rec.units.rstrip('。')}。"
    else:
        body = "：" + rec.text.replace("\n", "")[:300]
    return (
        src + body + "（规划于2018年印发，规划期2016–2020年，现行标准请以相关部门最新规定为准。）"
    )


def items_by(
    records: list[AnyRecord], domain: str | None = None, unit: str | None = None
) -> list[list]:
    rows = []
    for r in records:
        if not isinstance(r, ServiceItem):
            continue
        if domain and r.domain != domain:
            continue
        if unit and unit not in r.lead_units:
            continue
        rows.append([r.id, r.name, r.domain, r.lead])
    return rows


def lead_units(records: list[AnyRecord]) -> list[str]:
    units = {u for r in records if isinstance(r, ServiceItem) for u in r.lead_units}
    return sorted(units)


def indicator_rows(records: list[AnyRecord]) -> list[list]:
    box = next(r for r in records if isinstance(r, Box) and r.number == 1)
    return [
        [
            i.domain,
            i.name,
            i.value_2015 or "-",
            i.target_2020 or "-",
            i.cumulative or "",
            i.note or "",
        ]
        for i in box.indicators
    ]


def task_rows(records: list[AnyRecord], unit: str | None = None) -> list[list]:
    rows = []
    for r in records:
        if isinstance(r, Task) and (not unit or unit.removeprefix("市") in r.units):
            rows.append([r.id, r.task, r.units])
    return rows


def task_units(records: list[AnyRecord]) -> list[str]:
    units: set[str] = set()
    for r in records:
        if isinstance(r, Task):
            head = r.units.split("牵头")[0].replace("分别", "")
            for u in re.split(r"[、，]", head):
                if not u or "县区" in u:
                    continue
                # "发改委、财政局" share the leading 市 of the first unit
                units.add(
                    u
                    if u.startswith("市") or not u.endswith(("局", "委", "办", "联"))
                    else "市" + u
                )
    return sorted(units)
