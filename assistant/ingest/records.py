"""Typed, citable records from an outline: the kinds, their IDs and fields, and how each is built.

Kinds and local IDs (a document's records are cited as ``DOC:LOCAL``, see EVAL_FORMAT.md):
``章节-X`` a section (X as the document numbers it: 序言, 三, 三（五）, 第二章, 附件1), ``专栏-N`` a
box, ``清单-N`` an item of a service list (a table headed 服务项目/服务对象/服务指导标准/支出责任/
牵头负责单位), ``分工-N`` a task of a task-assignment table (重点任务/责任单位), ``条款-N`` the
article 第N条, ``附件K-N`` row N of any other table in 附件K (fields named by its header).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from .cleaning import clean_text, no_space
from .errors import StructureError
from .structure import Annex, ArticleNode, BoxNode, OTable, Outline, Para, Part, TRow

_SUPERSCRIPTS = {"¹": 1, "²": 2, "³": 3, "⁴": 4, "⁵": 5, "⁶": 6, "⁷": 7, "⁸": 8, "⁹": 9}
_LEAD = re.compile(r"^(?:\d+\.\s*|[（(]\d+[）)]\s*)?([^，、；：,。]{2,26})。")
_CN = "一二三四五六七八九十"

# ---------------------------------------------------------------- record kinds


class Record(BaseModel):
    """Anything an answer can cite."""

    id: str = Field(description="citation ID, as in EVAL_FORMAT.md")
    kind: Literal["section", "box", "item", "task", "article", "row"]
    title: str
    path: list[str] = Field(default_factory=list, description="heading path, outermost first")
    domain: str | None = None
    plan: str = ""
    document: str = Field(
        "",
        exclude=True,
        description="the document's name in citations (《…》), set for documents other than the "
        "default plan, whose citations keep their own words (规划第三部分…)",
    )

    @property
    def readable(self) -> str:
        return readable_citation(self.id, self.title, self.document)

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


class Article(Record):
    """第N条 of a set of rules, with its items （一）… and further paragraphs."""

    kind: Literal["article"] = "article"
    number: int
    label: str = Field(description="as printed: 第十五条")
    paragraphs: list[str] = Field(default_factory=list)

    def fields(self) -> list[tuple[str, str]]:
        return [("条款", self.label)] + [("正文", p) for p in self.paragraphs]

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


class Cell(BaseModel):
    label: str
    value: str


class TableRow(Record):
    """Row N of a table in 附件K, each value labelled by the table's header."""

    kind: Literal["row"] = "row"
    annex: int
    number: int
    group: str | None = Field(None, description="the group label printed above the row")
    cells: list[Cell] = Field(default_factory=list)

    def fields(self) -> list[tuple[str, str]]:
        out = [("分组", self.group)] if self.group else []
        return out + [(c.label, c.value) for c in self.cells]


AnyRecord = Section | Box | ServiceItem | Task | Article | TableRow


class DocMeta(BaseModel):
    """A document's cover facts: from its text, each overridable by the .toml beside the file."""

    id: str
    title: str = ""
    doc_number: str = ""
    issued: str = ""
    period: str = ""
    issuer: str = ""
    source: str = ""
    text: str = Field("", description="the file the document was read from, beside its .toml")


# ---------------------------------------------------------------- citation IDs


def section_id(key: str) -> str:
    return f"章节-{key}"


def document_name(title: str, issuer: str = "", doc_number: str = "") -> str:
    """How citations name a document: 《title》 without the issuers before 关于 (a notice's
    title starts with them), else 〔文号〕."""
    short = re.sub(r"^.{2,60}?关于(?=.{4,})", "", title) if "关于" in title else title
    if short:
        return f"《{short}》"
    return doc_number


def readable_citation(cid: str, title: str = "", document: str = "") -> str:
    cid = cid.partition(":")[2] or cid
    if document:
        return document + _local_readable(cid, title, plan=False)
    return _local_readable(cid, title, plan=True)


def _local_readable(cid: str, title: str, plan: bool) -> str:
    kind, _, rest = cid.partition("-")
    if kind == "清单":
        return f"清单第{rest}项「{title}」" if title else f"清单第{rest}项"
    if kind == "分工":
        return f"重点任务分工第{rest}项"
    if kind == "专栏":
        return f"专栏{rest}「{title}」" if title else f"专栏{rest}"
    if kind == "条款":
        return title or f"第{rest}条"
    if m := re.fullmatch(r"附件(\d+)", kind):
        return f"附件{m.group(1)}第{rest}行「{title}」" if title else f"附件{m.group(1)}第{rest}行"
    if kind == "章节" and rest == "序言":
        return "规划序言" if plan else "正文开头"
    if kind == "章节" and rest.startswith(("第", "附件")):
        return f"{rest}「{title}」" if title else rest
    if kind == "章节":
        top, sub = rest[0], rest[1:]
        where = f"{'规划' if plan else ''}第{top}部分{sub}"
        return f"{where}「{title}」" if title else where
    return cid


LOCAL_ID_PATTERN = re.compile(
    rf"^(?:清单|分工|专栏|条款)-[1-9]\d*$|^附件[1-9]\d*-[1-9]\d*$"
    rf"|^章节-(?:序言|[{_CN}]+(?:（[{_CN}]+）)?|第[{_CN}百零〇\d]+章(?:第[{_CN}\d]+节)?|附件[1-9]\d*)$"
)


def split_citation(cid: str) -> tuple[str | None, str]:
    """``jinan-2018-5:清单-56`` → ("jinan-2018-5", "清单-56"); a bare local ID has no document."""
    doc, sep, local = cid.partition(":")
    return (doc, local) if sep else (None, cid)


# ---------------------------------------------------------------- building


class _Builder:
    def __init__(self, outline: Outline, meta: DocMeta, domains: tuple[str, ...]):
        self.o, self.meta, self.domains = outline, meta, set(domains)
        self.records: list[AnyRecord] = []

    def section(self, key: str, title: str, path: list[str]) -> Section:
        s = Section(id=section_id(key), key=key, title=title, path=path, plan=self.meta.id)
        if title in self.domains:
            s.domain = title
        self.records.append(s)
        return s

    def walk(self, nodes: list, section: Section, heads: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Part):
                heading = _heading(node)
                if node.level == 2 and node.lead:
                    sec = self.section(node.key, node.title, [*heads, heading])
                    _, dot, rest = node.lead.partition("。")
                    if rest.strip() or not dot:
                        sec.paragraphs.append(Paragraph(title=node.title, text=node.lead))
                else:
                    sec = self.section(node.key, node.title, [*heads, heading])
                self.walk(node.children, sec, [*heads, heading])
            elif isinstance(node, Para):
                section.paragraphs.append(_paragraph(node.text))
            elif isinstance(node, BoxNode):
                self.records.append(self.box(node, section))
            elif isinstance(node, ArticleNode):
                self.records.append(self.article(node, heads))
            elif isinstance(node, OTable):
                section.paragraphs.extend(Paragraph(text=t) for t in _row_lines(node))

    def box(self, node: BoxNode, section: Section) -> Box:
        box = Box(
            id=f"专栏-{node.number}",
            number=node.number,
            title=node.title,
            section=section.id,
            path=[*section.path, f"专栏{node.number} {node.title}"],
            domain=section.domain,
            plan=self.meta.id,
            notes=list(node.notes),
        )
        for t in node.tables:
            labels = t.header or []
            if labels and labels[0] == "指标":
                box.indicators.extend(_indicators(t))
            elif labels[:3] == ["领域", "服务项目", "数量"]:
                box.directory.extend(
                    DirectoryRow(
                        domain=clean_text(c[0]), items=clean_text(c[1]), count=clean_text(c[2])
                    )
                    for c in (_pad(r.cells, 3) for r in t.rows)
                )
            else:
                box.rows.extend(_box_rows(t))
        if box.indicators:
            _attach_notes(box)
        return box

    def article(self, node: ArticleNode, heads: list[str]) -> Article:
        paras = [clean_text(p) for p in [node.text, *node.paragraphs] if p.strip()]
        for t in node.tables:
            paras.extend(_row_lines(t))
        return Article(
            id=f"条款-{node.number}",
            title=node.label,
            number=node.number,
            label=node.label,
            paragraphs=paras,
            path=[*heads, node.label],
            plan=self.meta.id,
        )

    def annex(self, a: Annex) -> None:
        label = f"附件{a.number} {_short_title(a.title, self.meta.issuer)}".strip()
        heads = [self.meta.title, label]
        text_section: Section | None = None
        record_table = False
        for item in a.items:
            if isinstance(item, OTable):
                schema = _schema(item)
                record_table = record_table or schema in ("items", "tasks")
                if schema == "items":
                    self.records.extend(self.service_items(item, heads))
                elif schema == "tasks":
                    self.records.extend(self.tasks(item, heads))
                else:
                    self.records.extend(self.rows(item, a.number, heads))
                continue
            if record_table:
                raise StructureError(
                    f"{self.o.where(item.line)}：附件{a.number}的表格之后出现了不属于表格的文字："
                    f"{item.text[:40]}（unexpected text in 附件{a.number}）"
                )
            if text_section is None:
                text_section = self.section(f"附件{a.number}", a.title, heads)
            text_section.paragraphs.append(_paragraph(item.text))

    def service_items(self, t: OTable, heads: list[str]) -> list[ServiceItem]:
        col = {
            k: t.column(k)
            for k in ("序号", "服务项目", "服务对象", "服务指导标准", "支出责任", "牵头负责单位")
        }
        domain = heading = ""
        items: list[dict] = []
        for r in t.rows:

            def get(label: str, r: TRow = r) -> str:
                i = col[label]
                return r.cells[i] if i is not None and i < len(r.cells) else ""

            if r.group:
                label = clean_text(r.cells[0])
                m = re.match(rf"^([{_CN}]+)、\s*(\S+?)\s*$", label)
                domain, heading = (m.group(2) if m else label), no_space(label)
                continue
            number = get("序号").strip()
            group = (get("服务对象"), get("服务指导标准"), get("支出责任"))
            if number.isdigit():
                items.append(
                    {
                        "no": int(number),
                        "domain": domain,
                        "heading": heading,
                        "name": get("服务项目"),
                        "lead": get("牵头负责单位"),
                        "cells": [group],
                    }
                )
            elif not number and items:
                items[-1]["cells"].append(group)  # more groups of people for the item above
            else:
                raise StructureError(
                    f"{self.o.where(r.line)}：清单表格中有无法识别的一行：{' '.join(r.cells)[:40]}"
                    "（unexpected row）"
                )
        return [_service_item(it, self.meta, heads) for it in items]

    def tasks(self, t: OTable, heads: list[str]) -> list[Task]:
        no, task, units = t.column("序号"), t.column("重点任务"), t.column("责任单位")
        out = []
        for r in t.rows:
            c = _pad(r.cells, max(x for x in (no, task, units) if x is not None) + 1)
            number = c[no].strip() if no is not None else str(len(out) + 1)
            if not number.isdigit():
                raise StructureError(
                    f"{self.o.where(r.line)}：分工表格中有无法识别的一行：{' '.join(r.cells)[:40]}"
                    "（unexpected row）"
                )
            n = int(number)
            out.append(
                Task(
                    id=f"分工-{n}",
                    title=f"重点任务分工第{n}项",
                    number=n,
                    task=clean_text(c[task]),
                    units=clean_text(c[units]),
                    path=[*heads, f"第{n}项"],
                    plan=self.meta.id,
                )
            )
        return out

    def rows(self, t: OTable, annex: int, heads: list[str]) -> list[TableRow]:
        width = max([len(t.header or [])] + [len(r.cells) for r in t.rows])
        labels = t.header or [f"第{i + 1}列" for i in range(width)]
        no_col = t.column("序号")
        used = {r.number for r in self.records if isinstance(r, TableRow) and r.annex == annex}
        out: list[TableRow] = []
        group = None
        for r in t.rows:
            if r.group and len(labels) > 1:
                group = clean_text(r.cells[0])
                continue
            c = _pad(r.cells, len(labels))
            raw_no = c[no_col].strip() if no_col is not None else ""
            n = (
                int(raw_no)
                if raw_no.isdigit() and int(raw_no) not in used
                else max(used, default=0) + 1
            )
            used.add(n)
            cells = [Cell(label=h, value=clean_text(v)) for h, v in zip(labels, c, strict=False)]
            title = next((x.value for x in cells if x.label != "序号" and x.value), "")[:30]
            out.append(
                TableRow(
                    id=f"附件{annex}-{n}",
                    title=title,
                    annex=annex,
                    number=n,
                    group=group,
                    cells=cells,
                    path=[*heads, f"第{n}行"],
                    plan=self.meta.id,
                )
            )
        return out


def build(outline: Outline, meta: DocMeta, *, domains: tuple[str, ...] = ()) -> list[AnyRecord]:
    """Records in document order: 序言, parts with their boxes and articles, then the annexes."""
    b = _Builder(outline, meta, domains)
    preface = b.section("序言", "序言", [meta.title, "序言"])
    b.walk(outline.preface, preface, [meta.title])
    b.walk(outline.body, preface, [meta.title])
    for annex in outline.annexes:
        b.annex(annex)
    seen: dict[str, int] = {}
    for r in b.records:
        seen[r.id] = seen.get(r.id, 0) + 1
    if dups := [k for k, v in seen.items() if v > 1]:
        raise StructureError(f"文件中有重复的编号：{'、'.join(dups[:5])}（duplicate IDs）")
    return b.records


def _heading(p: Part) -> str:
    if p.label.endswith(("、", "）")):
        return f"{p.label}{p.title}"
    return f"{p.label} {p.title}".strip()


def _short_title(title: str, issuer: str) -> str:
    """An annex named in heading paths without the period tag (“十三五”) and the issuing region."""
    short = re.sub(r"^“[^”]{1,8}”", "", title)
    if (m := re.match(r"^(.+?[省市县区州盟旗])", issuer)) and short.startswith(m.group(1)):
        short = short[len(m.group(1)) :]
    return short or title


def _schema(t: OTable) -> str:
    labels = set(t.header or [])
    if {"服务项目", "服务对象", "服务指导标准", "支出责任", "牵头负责单位"} <= labels:
        return "items"
    if {"重点任务", "责任单位"} <= labels:
        return "tasks"
    return "rows"


def _pad(cells: list[str], n: int) -> list[str]:
    return (list(cells) + [""] * n)[:n]


def _row_lines(t: OTable) -> list[str]:
    """A table standing in running text, one labelled line per row."""
    out = []
    for r in t.rows:
        if t.header:
            pairs = [(h, clean_text(v)) for h, v in zip(t.header, r.cells, strict=False)]
            out.append("；".join(f"{h}：{v}" for h, v in pairs if v))
        else:
            out.append(" ".join(clean_text(v) for v in r.cells if v.strip()))
    return [x for x in out if x]


def _paragraph(text: str) -> Paragraph:
    text = clean_text(text)
    m = _LEAD.match(text)
    return Paragraph(title=m.group(1) if m else None, text=text)


def _box_rows(t: OTable) -> list[BoxRow]:
    out = []
    for r in t.rows:
        name, rest = r.cells[0], r.cells[1:]
        if t.header and len(t.header) > 1:
            pairs = zip(t.header[1:], rest, strict=False)
            body = "；".join(f"{h}：{clean_text(v)}" for h, v in pairs if v.strip())
        else:
            body = clean_text("\t".join(rest))
        out.append(BoxRow(name=re.sub(r"\s+", "", clean_text(name)), text=body))
    return out


def _indicators(t: OTable) -> list[Indicator]:
    """An indicator table: name, base value, target, cumulative; group rows name the domain."""
    out = []
    domain = ""
    for r in t.rows:
        c = _pad(r.cells, 4)
        if not any(x.strip() for x in c[1:]):
            domain = clean_text(c[0])
            continue
        raw_name = c[0]
        note = next((v for k, v in _SUPERSCRIPTS.items() if k in raw_name), None)
        name = clean_text("".join(ch for ch in raw_name if ch not in _SUPERSCRIPTS))
        out.append(
            Indicator(
                name=name,
                domain=domain,
                value_2015=clean_text(c[1]),
                target_2020=clean_text(re.sub(r"(?<=[\d.])\s+(?=[\u4e00-\u9fff])", "，", c[2])),
                cumulative=clean_text(c[3]),
                note=str(note) if note else None,
            )
        )
    return out


def _attach_notes(box: Box) -> None:
    """Replace note numbers on indicators with the note's text (注1–7)."""
    texts = {}
    for note in box.notes:
        if m := re.match(r"^(?:注：)?(\d+)\.\s*(.*)$", note):
            texts[m.group(1)] = m.group(2)
    for ind in box.indicators:
        if ind.note:
            ind.note = texts.get(ind.note, ind.note)


def _split_clauses(cell: str) -> list[str]:
    """Split a cell holding several groups laid side by side (CJK clause, space, CJK clause)."""
    parts = re.split(r"(?<=[\u4e00-\u9fff。；）])\s+(?=[\u4e00-\u9fff])", cell.strip())
    return [p for p in parts if p]


def _service_item(it: dict, meta: DocMeta, heads: list[str]) -> ServiceItem:
    rows: list[ItemRow] = []
    for target, standard, funding in it["cells"]:
        targets, standards, fundings = (
            [clean_text(p) for p in _split_clauses(x)] for x in (target, standard, funding)
        )
        if len(targets) > 1 and len(targets) == len(standards):
            fundings = fundings if len(fundings) == len(targets) else fundings * len(targets)
            rows.extend(
                ItemRow(target=t, standard=s, funding=f)
                for t, s, f in zip(targets, standards, fundings, strict=True)
            )
        else:
            rows.append(
                ItemRow(
                    target=clean_text(target),
                    standard=clean_text(standard),
                    funding=clean_text(funding),
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
        return "；".join(f"{'①②③④⑤⑥⑦⑧⑨⑩'[i]}{v}" for i, v in enumerate(values))

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
        path=[*heads, *([it["heading"]] if it["heading"] else []), f"第{n}项 {name}"],
        plan=meta.id,
    )
