"""The structure of Chinese official documents (公文) in general, from text blocks to an outline.

Recognised: the cover facts (title, 文号 such as 济政发〔2018〕5号, issuing body, date, period),
headings 一、 and （一） (parts that become sections), 第N章/第N节 and 第N条 articles, numbered
paragraphs 1. and （1） (kept in their section, titled by their lead phrase), 专栏 boxes with
their table and notes, 附件 N with their title, text and tables, tables with a header row whose
labels name the fields of every row (a header repeated on each page is dropped; rows holding
only a first cell are group labels), and the closing 版记 (抄送 …, … 印发), which is not content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .cleaning import CN_NUMERAL, clean_text, cn_to_int, no_space
from .formats import Extracted, Paragraph, Row, Table

_CN = "一二三四五六七八九十"
_TOP = re.compile(rf"^([{_CN}]+)、\s*(\S.*)$")
_SUB = re.compile(rf"^[（(]\s*([{_CN}]+)\s*[）)]\s*(.*)$")
_CHAPTER = re.compile(rf"^第([{CN_NUMERAL}\d]+)章\s*(.*)$")
_SECTION = re.compile(rf"^第([{CN_NUMERAL}\d]+)节\s*(.*)$")
_ARTICLE = re.compile(rf"^第([{CN_NUMERAL}\d]+)条(?:\s+|(?=[【［\[（(])|$)\s*(.*)$")
_BOX = re.compile(r"^专栏\s*(\d+)\s*(.*)$")
_ANNEX = re.compile(r"^附件\s*(\d*)\s*$")
_NOTE = re.compile(r"^(?:-\s*)?注\s*[：:]")
_NUMBERED = re.compile(r"^\d+\.\s*")
_CLOSING = re.compile(r"^抄送\s*[：:]|^.{0,40}\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*印发$")

# ---------------------------------------------------------------- the outline


@dataclass
class Cover:
    """Facts printed on the document itself; a .toml beside the file may override each."""

    title: str = ""
    doc_number: str = ""
    issuer: str = ""
    issued: str = ""  # ISO date
    period: str = ""  # e.g. 2016–2020


@dataclass
class Para:
    text: str
    line: int = 0


@dataclass
class TRow:
    cells: list[str]
    line: int = 0
    group: bool = False  # only the first cell holds text: a label for the rows below


@dataclass
class OTable:
    header: list[str] | None  # labels without spaces, as printed
    rows: list[TRow]
    line: int = 0

    def column(self, *labels: str) -> int | None:
        """Index of the first header label equal to one of ``labels``."""
        for i, h in enumerate(self.header or []):
            if h in labels:
                return i
        return None


@dataclass
class BoxNode:
    number: int
    title: str
    line: int = 0
    tables: list[OTable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ArticleNode:
    number: int
    label: str  # 第十五条
    text: str  # the article's first paragraph, after its number
    line: int = 0
    paragraphs: list[str] = field(default_factory=list)  # its items and further paragraphs
    tables: list[OTable] = field(default_factory=list)


@dataclass
class Part:
    """A heading and what stands under it: 一、 (level 1) or （一） (level 2); 第N章, 第N节."""

    level: int
    key: str  # how the document numbers it: 三, 三（五）, 第二章, 第二章第一节
    label: str  # the printed number: 三、 / （五） / 第二章
    title: str
    line: int = 0
    lead: str = ""  # for （一）headings: the whole line after the number (title and text)
    children: list[Part | Para | BoxNode | ArticleNode | OTable] = field(default_factory=list)


@dataclass
class Annex:
    number: int
    line: int = 0
    title: str = ""
    items: list[Para | OTable] = field(default_factory=list)

    @property
    def tables(self) -> list[OTable]:
        return [t for t in self.items if isinstance(t, OTable)]


@dataclass
class Outline:
    cover: Cover
    preface: list[Para | BoxNode | OTable]
    body: list[Part | ArticleNode | Para | BoxNode | OTable]
    annexes: list[Annex]
    removed: list[str]
    source: Extracted

    def where(self, line: int) -> str:
        return self.source.where(line)


# ---------------------------------------------------------------- parsing


def parse(ex: Extracted) -> Outline:
    blocks = _merge_tables(ex.blocks)
    removed = list(ex.removed)
    preface: list = []
    body: list = []
    annexes: list[Annex] = []
    stack: list[Part] = []
    article: ArticleNode | None = None
    box: BoxNode | None = None
    in_notes = False
    started = False

    def container() -> list:
        if stack:
            return stack[-1].children
        return body if started else preface

    for i, block in enumerate(blocks):
        if isinstance(block, Table):
            table = _table(block, removed)
            if annexes:
                annexes[-1].items.append(table)
            elif box is not None:
                box.tables.append(table)
            elif article is not None:
                article.tables.append(table)
            else:
                container().append(table)
            continue
        text = block.text.strip()
        if _CLOSING.match(text):
            # 版记: who gets copies, who printed it, when; everything after is not content
            removed.extend(_block_text(b) for b in blocks[i:])
            break
        if m := _ANNEX.match(text):
            n = int(m.group(1)) if m.group(1) else len(annexes) + 1
            annexes.append(Annex(n, block.line))
            box = article = None
            continue
        if annexes:
            annex = annexes[-1]
            if not annex.title and not annex.items:
                annex.title = clean_text(text)
            else:
                annex.items.append(Para(text, block.line))
            continue
        if box is not None:
            if _NOTE.match(text):
                box.notes.append(clean_text(re.sub(r"^-\s*", "", text)))
                in_notes = True
                continue
            if in_notes and _NUMBERED.match(text):
                box.notes.append(clean_text(text))
                continue
            box = None  # narrative resumes
        if m := _BOX.match(text):
            box = BoxNode(int(m.group(1)), clean_text(m.group(2)), block.line)
            in_notes = False
            container().append(box)
            continue
        if m := _CHAPTER.match(text):
            n = m.group(1)
            stack = [Part(1, f"第{n}章", f"第{n}章", clean_text(m.group(2)), block.line)]
            body.append(stack[0])
            started, article = True, None
            continue
        if (m := _SECTION.match(text)) and stack and stack[0].key.endswith("章"):
            n = m.group(1)
            part = Part(2, f"{stack[0].key}第{n}节", f"第{n}节", clean_text(m.group(2)), block.line)
            stack[0].children.append(part)
            stack = [stack[0], part]
            article = None
            continue
        if m := _ARTICLE.match(text):
            started = True
            article = ArticleNode(
                cn_to_int(m.group(1)), f"第{m.group(1)}条", m.group(2), block.line
            )
            container().append(article)
            continue
        if (m := _TOP.match(text)) and not (article and not _is_heading_line(text)):
            key = m.group(1)
            stack = [Part(1, key, f"{key}、", clean_text(m.group(2)), block.line)]
            body.append(stack[0])
            started, article = True, None
            continue
        if article is not None:
            article.paragraphs.append(text)
            continue
        if (m := _SUB.match(text)) and stack:
            parent = stack[0]
            lead = clean_text(m.group(2))
            head, dot, _ = lead.partition("。")
            title = head if dot and len(head) <= 20 else lead[:20]
            part = Part(2, f"{parent.key}（{m.group(1)}）", f"（{m.group(1)}）", title, block.line)
            part.lead = lead
            parent.children.append(part)
            stack = [parent, part]
            continue
        container().append(Para(text, block.line))

    return Outline(cover(preface, _paras(body)[-8:]), preface, body, annexes, removed, ex)


def _paras(nodes: list) -> list[Para]:
    out: list[Para] = []
    for n in nodes:
        if isinstance(n, Para):
            out.append(n)
        elif isinstance(n, Part):
            out.extend(_paras(n.children))
    return out


def _is_heading_line(text: str) -> bool:
    """A 一、 line inside an article is an item of it unless it reads as a heading (short, no 。)."""
    return len(text) <= 30 and "。" not in text


def _block_text(b: Paragraph | Table) -> str:
    return b.text if isinstance(b, Paragraph) else "\n".join(r.raw for r in b.rows)


def _merge_tables(blocks: list) -> list:
    """A table that goes on over a page break is one table; so is one whose group label lost
    its cell borders in extraction (table, a short line such as 九、基本公共法律服务, table)."""
    out: list = []
    for b in blocks:
        if (
            isinstance(b, Table)
            and len(out) >= 2
            and isinstance(out[-2], Table)
            and isinstance(out[-1], Paragraph)
            and _is_group_label(out[-1].text)
            and b.rows
            and out[-2].rows
            and len(b.rows[0].cells) == len(out[-2].rows[-1].cells)
        ):
            label = out.pop()
            width = len(b.rows[0].cells)
            out[-1].rows.append(
                Row([label.text.strip()] + [""] * (width - 1), label.text, label.line)
            )
        prev = out[-1] if out else None
        if isinstance(b, Table) and isinstance(prev, Table) and b.rows and prev.rows:
            same_header = no_space(b.rows[0].raw) == no_space(prev.rows[0].raw)
            if same_header or len(b.rows[0].cells) == len(prev.rows[0].cells):
                out[-1] = Table(prev.rows + b.rows, prev.line, prev.header)
                continue
        out.append(b)
    return out


def _is_group_label(text: str) -> bool:
    text = text.strip()
    return (
        len(no_space(text)) <= 20
        and not re.search(r"[。；：]", text)
        and not any(p.match(text) for p in (_BOX, _ANNEX, _CHAPTER, _ARTICLE, _CLOSING, _NOTE))
    )


def _looks_like_header(cells: list[str]) -> bool:
    labels = [no_space(c) for c in cells]
    return (
        len(labels) >= 2
        and all(labels)
        and all(len(x) <= 16 and not x.endswith(("。", "；")) for x in labels)
        and not labels[0].isdigit()
    )


def _table(t: Table, removed: list[str]) -> OTable:
    rows = list(t.rows)
    header = None
    if rows and (t.header or _looks_like_header(rows[0].cells)):
        header = [no_space(c) for c in rows[0].cells]
    out: list[TRow] = []
    for r in rows:
        if header is not None and [no_space(c) for c in r.cells] == header:
            removed.append(r.raw)  # the header, or its repetition at the top of a page
            continue
        if not any(c.strip() for c in r.cells):
            continue
        group = bool(r.cells[0].strip()) and not any(c.strip() for c in r.cells[1:])
        out.append(TRow(list(r.cells), r.line, group))
    return OTable(header, out, t.line)


# ---------------------------------------------------------------- cover facts

_DOC_NO = re.compile(
    r"([\u4e00-\u9fff]{1,12})\s*[〔\[［【(（]\s*(\d{4})\s*[〕\]］】)）]\s*(\d+)\s*号"
)
_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
_CN_DATE = re.compile(
    r"^([〇○零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,2})月([一二三四五六七八九十]{1,3})日$"
)
_TITLE_KIND = (
    "通知|意见|办法|规定|决定|批复|通报|方案|规划|细则|规则|条例|实施意见|公告|通告|函|报告|纲要"
)
_ISSUER_END = re.compile(r"(人民政府|办公厅|办公室|委员会|局|厅|委|部|院|中心|小组|政府)$")
_PERIODS = {
    "十一五": "2006–2010",
    "十二五": "2011–2015",
    "十三五": "2016–2020",
    "十四五": "2021–2025",
}
_PERIOD_YEARS = re.compile(r"[（(](\d{4})\s*[—–\-－~至]+\s*(\d{4})\s*年?[）)]")


def cover(nodes: list, closing: list | None = None) -> Cover:
    """The facts a reader finds on a 公文: its opening paragraphs, and the signature and date
    (落款) that close its text when they are not at the top."""
    paras = [clean_text(n.text) for n in nodes if isinstance(n, Para)][:40]
    paras = [p for p in paras if p and not (p.startswith("【") and p.endswith("】"))]
    tail = [clean_text(n.text) for n in closing or [] if isinstance(n, Para)]
    c = _cover(paras)
    if not c.issued:
        for i in range(len(tail) - 1, -1, -1):
            if d := _iso_date(tail[i]):
                c.issued = d
                before = tail[i - 1] if i else ""
                if not c.issuer and len(before) <= 30 and _ISSUER_END.search(before):
                    c.issuer = before
                break
    return c


def _cover(paras: list[str]) -> Cover:
    c = Cover()
    for p in paras:
        if m := _DOC_NO.search(p):
            if no_space(p) == no_space(m.group(0)) or not c.doc_number:
                c.doc_number = f"{m.group(1)}〔{m.group(2)}〕{m.group(3)}号"
            if no_space(p) == no_space(m.group(0)):
                break
    date_at = None
    for i, p in enumerate(paras):
        if d := _iso_date(p):
            c.issued, date_at = d, i
            break
    for p in paras:
        if p.endswith("文件") and len(p) <= 30:
            c.issuer = p.removesuffix("文件")
            break
    if not c.issuer and date_at:
        before = paras[date_at - 1]
        if len(before) <= 30 and _ISSUER_END.search(before):
            c.issuer = before
    for pattern in (rf"^(.*?关于.+?的(?:{_TITLE_KIND}))", rf"^(.*?关于.+?(?:{_TITLE_KIND}))"):
        if c.title:
            break
        for p in paras:
            if m := re.match(pattern, p):
                c.title = m.group(1)
                break
    if not c.title:
        for p in paras:
            if p.endswith("文件") or _DOC_NO.fullmatch(no_space(p)) or _iso_date(p):
                continue
            if len(p) <= 60 and re.search(rf"(?:{_TITLE_KIND})(?:[（(]试行[）)])?$", p):
                c.title = p
                break
    for text in [c.title]:  # the period a plan covers is in its title, not its citations
        if m := _PERIOD_YEARS.search(text):
            c.period = f"{m.group(1)}–{m.group(2)}"
            break
        if m := re.search(r"“(十[一二三四]五)”", text):
            c.period = _PERIODS[m.group(1)]
            break
    return c


def _iso_date(text: str) -> str:
    text = re.sub(r"^[（(](.*)[）)]$", r"\1", no_space(text))  # （2021年8月10日） under a title
    if m := _DATE.match(text):
        y, mo, d = (int(x) for x in m.groups())
        return f"{y:04d}-{mo:02d}-{d:02d}"
    if m := _CN_DATE.match(text):
        digits = {"〇": "0", "○": "0", "零": "0"} | {
            c: str(i) for i, c in enumerate(_CN, 1) if i < 10
        }
        y = int("".join(digits[ch] for ch in m.group(1)))
        return f"{y:04d}-{cn_to_int(m.group(2)):02d}-{cn_to_int(m.group(3)):02d}"
    return ""
