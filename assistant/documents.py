"""The plan text as typed, citable records: sections, boxes (专栏), service items, tasks."""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

CN_NUM = "一二三四五六七八九十"
DOMAINS = (
    "基本公共教育",
    "基本劳动就业创业",
    "基本社会保险",
    "基本医疗卫生",
    "基本社会服务",
    "基本住房保障",
    "基本公共文化体育",
    "基本公共安全",
    "基本公共法律服务",
    "残疾人基本公共服务",
)
TOP_SECTION_TITLES = {"一": "规划背景", "二": "总体要求", "三": "各领域重点任务", "四": "保障措施"}

# ---------------------------------------------------------------- text cleaning

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018-\u201d\u2014\u2026"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])[ \t\u00a0]+|[ \t\u00a0]+(?=[{_CJK}])")
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）"}
_HALF_PUNCT_NEAR_CJK = re.compile(rf"(?<=[{_CJK}%\d])[,;:()]|[,;:()](?=[{_CJK}])")
_TAGS = re.compile(r"</?p\s*>", re.I)
_SUPERSCRIPTS = {"¹": 1, "²": 2, "³": 3, "⁴": 4, "⁵": 5, "⁶": 6, "⁷": 7, "⁸": 8, "⁹": 9}


def clean_text(text: str) -> str:
    """Normalise one extracted cell: tags gone, layout spaces beside CJK gone, CJK punctuation."""
    text = _TAGS.sub("", text)
    text = _SPACE_NEAR_CJK.sub("", text.strip())
    text = _HALF_PUNCT_NEAR_CJK.sub(lambda m: _HALF_TO_FULL[m.group(0)], text)
    return re.sub(r"\s{2,}", " ", text)


def cjk_only(text: str) -> str:
    return "".join(re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]", text))


# ---------------------------------------------------------------- records


class Record(BaseModel):
    """Anything an answer can cite."""

    id: str = Field(description="citation ID, as in EVAL_FORMAT.md")
    kind: Literal["section", "box", "item", "task"]
    title: str
    path: list[str] = Field(default_factory=list, description="heading path, outermost first")
    domain: str | None = None
    plan: str = ""

    @property
    def readable(self) -> str:
        return readable_citation(self.id, self.title)

    def fields(self) -> list[tuple[str, str]]:
        """Labelled fields for a card, in reading order."""
        return []

    @property
    def text(self) -> str:
        return "\n".join(f"{label}：{value}" for label, value in self.fields())


class Paragraph(BaseModel):
    title: str | None = Field(None, description="lead phrase such as 义务教育")
    text: str


class Section(Record):
    kind: Literal["section"] = "section"
    key: str = Field(description="numbering as printed: 三（五）, or 序言")
    paragraphs: list[Paragraph] = Field(default_factory=list)

    def fields(self) -> list[tuple[str, str]]:
        return [("章节", f"{self.key} {self.title}".strip())] + [
            ("正文", p.text) for p in self.paragraphs
        ]

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)


class Indicator(BaseModel):
    name: str
    domain: str
    value_2015: str
    target_2020: str
    cumulative: str
    note: str | None = None


class DirectoryRow(BaseModel):
    domain: str
    items: str
    count: str


class BoxRow(BaseModel):
    name: str
    text: str


class Box(Record):
    kind: Literal["box"] = "box"
    number: int
    section: str = Field(description="citation ID of the section the box stands in")
    rows: list[BoxRow] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list)
    directory: list[DirectoryRow] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def fields(self) -> list[tuple[str, str]]:
        out = [("专栏", f"专栏{self.number} {self.title}")]
        for ind in self.indicators:
            out.append(("指标", indicator_line(ind)))
        for d in self.directory:
            out.append(("领域", f"{d.domain}：{d.items}（{d.count}）" if d.count else d.domain))
        for r in self.rows:
            out.append((r.name, r.text))
        return out


def indicator_line(ind: Indicator) -> str:
    parts = [f"{ind.name}（{ind.domain}）", f"2015年：{ind.value_2015 or '-'}"]
    parts.append(f"2020年：{ind.target_2020 or '-'}")
    if ind.cumulative:
        parts.append(f"累计：{ind.cumulative}")
    line = "，".join(parts)
    return f"{line}。注：{ind.note}" if ind.note else line


class ItemRow(BaseModel):
    """One group of people within an item, with the standard and funding that apply to it."""

    target: str
    standard: str
    funding: str


class ServiceItem(Record):
    kind: Literal["item"] = "item"
    number: int
    name: str
    target: str = Field(description="服务对象")
    standard: str = Field(description="服务指导标准")
    funding: str = Field(description="支出责任")
    lead: str = Field(description="牵头负责单位")
    rows: list[ItemRow]

    @property
    def lead_units(self) -> list[str]:
        return [u for u in re.split(r"[、，,]", self.lead) if u]

    def fields(self) -> list[tuple[str, str]]:
        return [
            ("序号", str(self.number)),
            ("领域", self.domain or ""),
            ("服务项目", self.name),
            ("服务对象", self.target),
            ("服务指导标准", self.standard),
            ("支出责任", self.funding),
            ("牵头负责单位", self.lead),
        ]


class Task(Record):
    kind: Literal["task"] = "task"
    number: int
    task: str = Field(description="重点任务")
    units: str = Field(description="责任单位")

    def fields(self) -> list[tuple[str, str]]:
        return [("序号", str(self.number)), ("重点任务", self.task), ("责任单位", self.units)]


AnyRecord = Section | Box | ServiceItem | Task


class PlanMeta(BaseModel):
    id: str
    text: str
    title: str
    doc_number: str
    issued: str
    period: str
    issuer: str
    source: str = ""


class Plan(BaseModel):
    meta: PlanMeta
    records: list[AnyRecord]
    removed_noise: list[str] = Field(default_factory=list)
    sha256: str

    def by_id(self) -> dict[str, AnyRecord]:
        return {r.id: r for r in self.records}

    def of_kind(self, kind: str) -> list[AnyRecord]:
        return [r for r in self.records if r.kind == kind]


# ---------------------------------------------------------------- citation IDs


def section_id(key: str) -> str:
    return f"章节-{key}"


def readable_citation(cid: str, title: str = "") -> str:
    kind, _, rest = cid.partition("-")
    if kind == "清单":
        return f"清单第{rest}项「{title}」" if title else f"清单第{rest}项"
    if kind == "分工":
        return f"重点任务分工第{rest}项"
    if kind == "专栏":
        return f"专栏{rest}「{title}」" if title else f"专栏{rest}"
    if kind == "章节" and rest == "序言":
        return "规划序言"
    if kind == "章节":
        top, sub = rest[0], rest[1:]
        return f"规划第{top}部分{sub}「{title}」" if title else f"规划第{top}部分{sub}"
    return cid


ID_PATTERN = re.compile(
    rf"^(清单-(100|[1-9]\d?)|分工-(2[0-8]|1\d|[1-9])|专栏-(1[0-2]|[1-9])|章节-序言|章节-[{CN_NUM}]+(（[{CN_NUM}]+）)?)$"
)

# ---------------------------------------------------------------- parsing

_RULE = re.compile(r"^[-\s]*-{3,}[-\s]*$")
_TABLE_HEADERS = (
    re.compile(r"^序号\s+服务项目\s+服务对象"),
    re.compile(r"^序号\s+重\s*点\s*任\s*务"),
    re.compile(r"^指\s*标\s+2015\s*年"),
    re.compile(r"^领域\s+服务项目\s+数量"),
)
_TOP = re.compile(rf"^([{CN_NUM}])、\s*(\S.*)$")
_SUB = re.compile(rf"^[（(]\s*([{CN_NUM}]+)\s*[）)]\s*(.*)$")
_BOX = re.compile(r"^专栏\s*(\d+)\s*(.*)$")
_ANNEX = re.compile(r"^附件\s*(\d)$")
_HEADING = re.compile(rf"^(?:[{CN_NUM}]、|[（(]\s*[{CN_NUM}]+\s*[）)]|专栏\s*\d|附件|\d+\.\s)")
_TERMINAL = tuple("。！？；：”）)")
_LEAD = re.compile(r"^(?:\d+\.\s*)?([^，、；：,。]{2,26})。")


@dataclass
class _Line:
    no: int  # 1-based line number in the source, for messages
    text: str


def _logical_lines(raw: str) -> tuple[list[_Line], list[str]]:
    """Drop PDF noise, rejoin text broken at page ends. Returns (lines, removed noise)."""
    removed: list[str] = []
    lines: list[_Line] = []
    gap = False
    for no, line in enumerate(raw.splitlines(), 1):
        stripped = _TAGS.sub("", line).rstrip(" \r\n\u3000")
        if stripped.startswith("抄送："):
            removed.extend(x for x in raw.splitlines()[no - 1 :] if x.strip())
            break
        if not stripped.strip():
            gap = True
            continue
        if _RULE.match(stripped) or any(h.match(stripped) for h in _TABLE_HEADERS):
            removed.append(stripped)
            continue
        prev = lines[-1].text if lines else ""
        if (
            gap
            and prev
            and "\t" not in prev
            and "\t" not in stripped
            and len(prev) >= 20
            and not prev.endswith(_TERMINAL)
            and not _HEADING.match(stripped)
        ):
            lines[-1].text = prev + stripped.lstrip()
        elif lines and "\t" not in prev and _duplicate_head(prev, stripped):
            # the PDF repeats the last characters of a page at the top of the next
            dup = _duplicate_head(prev, stripped)
            removed.append(stripped[:dup])
            lines.append(_Line(no, stripped[dup:]))
        else:
            lines.append(_Line(no, stripped))
        gap = False
    return lines, removed


def _duplicate_head(prev: str, cur: str) -> int:
    """Length of a short sentence end that ``cur`` starts with and ``prev`` already ends with."""
    m = re.match(r"^[^。，]{1,3}。", cur)
    if m and prev.endswith(m.group(0)) and len(cur) > len(m.group(0)):
        return len(m.group(0))
    return 0


def _paragraph(text: str) -> Paragraph:
    text = clean_text(text)
    m = _LEAD.match(text)
    return Paragraph(title=m.group(1) if m else None, text=text)


def _split_clauses(cell: str) -> list[str]:
    """Split a cell holding several groups laid side by side (CJK clause, space, CJK clause)."""
    parts = re.split(r"(?<=[\u4e00-\u9fff。；）])\s+(?=[\u4e00-\u9fff])", cell.strip())
    return [p for p in parts if p]


def _cells(line: str, n: int) -> list[str]:
    cells = line.split("\t")
    return (cells + [""] * n)[:n]


def parse_plan(raw: str, meta: PlanMeta) -> Plan:
    lines, removed = _logical_lines(raw)
    records: list[AnyRecord] = []
    preface = Section(
        id=section_id("序言"), key="序言", title="序言", path=[meta.title, "序言"], plan=meta.id
    )
    records.append(preface)
    section: Section = preface
    top_title = ""
    box: Box | None = None
    annex = 0
    domain = ""
    items: list[dict] = []
    in_notes = False

    def new_section(key: str, title: str, path: list[str]) -> Section:
        s = Section(id=section_id(key), key=key, title=title, path=path, plan=meta.id)
        records.append(s)
        return s

    for ln in lines:
        text = ln.text
        if m := _ANNEX.match(text):
            annex, box, domain = int(m.group(1)), None, ""
            continue
        if annex == 1:
            if m := re.match(rf"^([{CN_NUM}]+)、\s*(\S+?)\s*$", text.replace("\t", " ").strip()):
                domain = m.group(2)
            elif m := re.match(r"^(\d+)\t", text):
                c = _cells(text, 6)
                items.append(
                    {"no": int(c[0]), "domain": domain, "name": c[1], "lead": c[5], "cells": [c]}
                )
            elif text.startswith("\t") and items:
                items[-1]["cells"].append(_cells(text, 6))
            elif "清单" in text and not items:
                continue  # the annex title
            else:
                raise ValueError(f"line {ln.no}: unexpected text in 附件1: {text[:40]}")
            continue
        if annex == 2:
            if m := re.match(r"^(\d+)\t", text):
                c = _cells(text, 3)
                n = int(c[0])
                records.append(
                    Task(
                        id=f"分工-{n}",
                        title=f"重点任务分工第{n}项",
                        number=n,
                        task=clean_text(c[1]),
                        units=clean_text(c[2]),
                        path=[meta.title, "附件2 重点任务分工方案", f"第{n}项"],
                        plan=meta.id,
                    )
                )
            elif "分工" in text:
                continue  # the annex title
            else:
                raise ValueError(f"line {ln.no}: unexpected text in 附件2: {text[:40]}")
            continue
        if m := _BOX.match(text):
            n = int(m.group(1))
            title = clean_text(m.group(2))
            box = Box(
                id=f"专栏-{n}",
                number=n,
                title=title,
                section=section.id,
                path=[*section.path, f"专栏{n} {title}"],
                domain=section.domain,
                plan=meta.id,
            )
            records.append(box)
            domain, in_notes = "", False
            continue
        if box is not None:
            if _parse_box_line(box, text, domain):
                if "\t" in text and box.number == 1 and not text.split("\t", 1)[1].strip():
                    domain = clean_text(text)
                in_notes = in_notes or text.startswith("- 注")
                continue
            if in_notes and re.match(r"^\d+\.\s*", text):
                box.notes.append(clean_text(text))
                continue
            box = None  # narrative resumes
        if m := _TOP.match(text):
            key = m.group(1)
            top_title = clean_text(m.group(2))
            section = new_section(key, top_title, [meta.title, f"{key}、{top_title}"])
            continue
        if (m := _SUB.match(text)) and section.key != "序言":
            top = section.key[0]
            key = f"{top}（{m.group(1)}）"
            body = clean_text(m.group(2))
            head, dot, rest = body.partition("。")
            title = head if dot and len(head) <= 20 else body[:20]
            section = new_section(
                key, title, [meta.title, f"{top}、{top_title}", f"（{m.group(1)}）{title}"]
            )
            if top == "三" and title in DOMAINS:
                section.domain = title
            if rest.strip() or not dot:
                section.paragraphs.append(Paragraph(title=title, text=body))
            continue
        section.paragraphs.append(_paragraph(text))

    for it in items:
        records.append(_service_item(it, meta))
    for b in (r for r in records if isinstance(r, Box) and r.number == 1):
        _attach_notes(b)
    return Plan(
        meta=meta,
        records=records,
        removed_noise=removed,
        sha256=hashlib.sha256(raw.encode()).hexdigest(),
    )


def _parse_box_line(box: Box, text: str, domain: str) -> bool:
    """Take one line into the box; False when the line is not part of the box."""
    if text.startswith("- 注"):
        box.notes.append(clean_text(text.removeprefix("- ").strip()))
        return True
    if "\t" not in text:
        return False
    if box.number == 1:
        c = _cells(text, 4)
        if not any(x.strip() for x in c[1:]):
            return True  # a domain row: the caller keeps it as the current domain
        raw_name = c[0]
        note = next((v for k, v in _SUPERSCRIPTS.items() if k in raw_name), None)
        name = clean_text("".join(ch for ch in raw_name if ch not in _SUPERSCRIPTS))
        box.indicators.append(
            Indicator(
                name=name,
                domain=domain,
                value_2015=clean_text(c[1]),
                target_2020=clean_text(re.sub(r"(?<=[\d.])\s+(?=[\u4e00-\u9fff])", "，", c[2])),
                cumulative=clean_text(c[3]),
                note=str(note) if note else None,
            )
        )
        return True
    if box.number == 2:
        c = _cells(text, 3)
        box.directory.append(
            DirectoryRow(domain=clean_text(c[0]), items=clean_text(c[1]), count=clean_text(c[2]))
        )
        return True
    name, _, body = text.partition("\t")
    box.rows.append(BoxRow(name=re.sub(r"\s+", "", clean_text(name)), text=clean_text(body)))
    return True


def _attach_notes(box: Box) -> None:
    """Replace note numbers on indicators with the note's text (注1–7)."""
    texts = {}
    for note in box.notes:
        if m := re.match(r"^(?:注：)?(\d+)\.\s*(.*)$", note):
            texts[m.group(1)] = m.group(2)
    for ind in box.indicators:
        if ind.note:
            ind.note = texts.get(ind.note, ind.note)


def _service_item(it: dict, meta: PlanMeta) -> ServiceItem:
    rows: list[ItemRow] = []
    for c in it["cells"]:
        targets, standards, fundings = ([clean_text(p) for p in _split_clauses(x)] for x in c[2:5])
        if len(targets) > 1 and len(targets) == len(standards):
            fundings = fundings if len(fundings) == len(targets) else fundings * len(targets)
            rows.extend(
                ItemRow(target=t, standard=s, funding=f)
                for t, s, f in zip(targets, standards, fundings, strict=True)
            )
        else:
            rows.append(
                ItemRow(
                    target=clean_text(c[2]), standard=clean_text(c[3]), funding=clean_text(c[4])
                )
            )
    # the funding cell of a continuation row may be empty: it shares the row above
    for i, r in enumerate(rows):
        if not r.funding and i:
            r.funding = rows[i - 1].funding

    def joined(attr: str) -> str:
        values = [getattr(r, attr) for r in rows]
        if len(rows) == 1:
            return values[0]
        return "；".join(f"{'①②③④⑤'[i]}{v}" for i, v in enumerate(values))

    n, name = it["no"], clean_text(it["name"])
    return ServiceItem(
        id=f"清单-{n}",
        title=name,
        number=n,
        name=name,
        domain=it["domain"],
        target=joined("target"),
        standard=joined("standard"),
        funding=joined("funding"),
        lead=clean_text(it["lead"]),
        rows=rows,
        path=[
            meta.title,
            "附件1 基本公共服务清单",
            f"{_domain_heading(it['domain'])}",
            f"第{n}项 {name}",
        ],
        plan=meta.id,
    )


def _domain_heading(domain: str) -> str:
    return f"{CN_NUM[DOMAINS.index(domain)] if domain in DOMAINS else ''}、{domain}"


# ---------------------------------------------------------------- loading


def iter_plan_files(corpus_dir: Path) -> Iterable[tuple[Path, PlanMeta]]:
    for meta_file in sorted(corpus_dir.glob("*.toml")):
        data = tomllib.loads(meta_file.read_text(encoding="utf-8"))
        if "text" not in data:
            continue  # not a plan description (aliases, say)
        yield meta_file.parent / data["text"], PlanMeta(**data)


@cache
def load_plans(corpus_dir: Path) -> tuple[Plan, ...]:
    plans = []
    for text_file, meta in iter_plan_files(corpus_dir):
        plans.append(parse_plan(text_file.read_text(encoding="utf-8"), meta))
        logger.info("parsed %s: %d records", meta.id, len(plans[-1].records))
    if not plans:
        raise FileNotFoundError(f"no plan (*.toml with a text file) in {corpus_dir}")
    seen: set[str] = set()
    for p in plans:
        dup = seen & {r.id for r in p.records}
        if dup:
            raise ValueError(f"citation IDs used by two plans: {sorted(dup)[:5]}")
        seen |= {r.id for r in p.records}
    return tuple(plans)


def all_records(corpus_dir: Path) -> list[AnyRecord]:
    return [r for p in load_plans(corpus_dir) for r in p.records]


def corpus_hash(corpus_dir: Path) -> str:
    """Hash of what the stored chunks are made from: the plans (aliases only touch queries)."""
    h = hashlib.sha256()
    for text_file, meta in iter_plan_files(corpus_dir):
        h.update(meta.model_dump_json().encode())
        h.update(text_file.read_bytes())
    return h.hexdigest()[:16]
