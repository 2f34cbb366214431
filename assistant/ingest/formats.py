"""Files in, text blocks out: .txt/.md, .docx and text-based .pdf as paragraphs and tables.

No structure yet (that is ``structure``): a block is a paragraph of text or a table of cell
texts, in reading order. Every reader gives the same form, so a .docx or .pdf made from a text
file reads back as that text file does. Inside a cell, lines the writer broke on purpose are
joined by a space (as text extraction from a PDF gives them), lines wrapped by the layout are
joined without one.

Libraries: python-docx reads .docx (paragraphs and tables in body order, merged cells seen
through the XML). For .pdf, PDFium (pypdfium2) gives the characters and their boxes, and
pdfplumber finds the tables from the ruling lines. PDFium reads CJK fonts that pdfminer (under
pdfplumber) decodes as nothing: fpdf2's Noto CJK output, for one, gives pdfminer no text at all.
Both come with ``pip install pdfplumber``.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
import statistics
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from .cleaning import TAGS
from .errors import (
    DamagedFileError,
    EmptyDocumentError,
    EncryptedDocumentError,
    FileTooLargeError,
    NoTextLayerError,
    UnsupportedFormatError,
)

logger = logging.getLogger(__name__)

# no-break and typographic spaces (U+00A0, U+2000–U+200A) read as plain spaces
_SPACES = str.maketrans(
    {c: " " for c in "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"}
)
SUPPORTED = {".txt": "txt", ".md": "md", ".markdown": "md", ".docx": "docx", ".pdf": "pdf"}


class IngestLimits(BaseModel):
    """What one file may hold; refused above it, before anything is parsed."""

    max_bytes: int = Field(20 * 1024 * 1024, description="largest file accepted, in bytes")
    max_pages: int = Field(500, description="most pages a PDF may have")


# ---------------------------------------------------------------- the common form


@dataclass
class Paragraph:
    text: str
    line: int = 0  # where it starts: a line (txt), a paragraph (docx), a page (pdf)


@dataclass
class Row:
    cells: list[str]
    raw: str  # the row as printed, for the list of removed noise
    line: int = 0


@dataclass
class Table:
    rows: list[Row]
    line: int = 0
    header: bool | None = None  # True where the format marks the first row as a header row


Block = Paragraph | Table


@dataclass
class Extracted:
    format: str
    blocks: list[Block]
    removed: list[str] = field(default_factory=list)
    unit: str = "行"  # what Block.line counts: 行 (txt/md), 段 (docx), 页 (pdf)
    pages: int | None = None

    def where(self, line: int) -> str:
        return f"第{line}{self.unit}（line {line}）"

    @property
    def has_text(self) -> bool:
        return any(
            b.text.strip()
            if isinstance(b, Paragraph)
            else any(c.strip() for r in b.rows for c in r.cells)
            for b in self.blocks
        )


# ---------------------------------------------------------------- entry points


def read_file(path: Path, limits: IngestLimits | None = None) -> Extracted:
    """Read one file by its extension; raise an IngestError subclass if it cannot be read."""
    limits = limits or IngestLimits()
    path = Path(path)
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise UnsupportedFormatError(
            f"不支持“{path.suffix or '无扩展名'}”格式的文件；可以添加 .txt、.md、.docx 或文字版 .pdf 文件",
            file=path.name,
        )
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise FileTooLargeError(
            f"文件有 {size / 1048576:.1f} MB，超过上限 {limits.max_bytes / 1048576:.1f} MB",
            file=path.name,
        )
    return read_bytes(path.read_bytes(), path.suffix, name=path.name, limits=limits)


def read_bytes(
    data: bytes, suffix: str, *, name: str = "", limits: IngestLimits | None = None
) -> Extracted:
    limits = limits or IngestLimits()
    kind = SUPPORTED.get(suffix.lower())
    if kind is None:
        raise UnsupportedFormatError(
            f"不支持“{suffix or '无扩展名'}”格式的文件；可以添加 .txt、.md、.docx 或文字版 .pdf 文件",
            file=name,
        )
    if len(data) > limits.max_bytes:
        raise FileTooLargeError(
            f"文件有 {len(data) / 1048576:.1f} MB，超过上限 {limits.max_bytes / 1048576:.1f} MB",
            file=name,
        )
    if not data.strip():
        raise EmptyDocumentError("文件是空的", file=name)
    if kind in ("txt", "md"):
        out = read_text(_decode(data, name), markdown=kind == "md")
    elif kind == "docx":
        out = read_docx(data, name=name)
    else:
        out = read_pdf(data, name=name, limits=limits)
    if not out.has_text:
        raise EmptyDocumentError("文件里没有文字", file=name)
    return out


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"%PDF") or data.startswith(b"PK\x03\x04") or b"\x00" in data[:4096]:
        raise UnsupportedFormatError("文件内容不是纯文本（扩展名与内容不符）", file=name)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DamagedFileError("文本既不是 UTF-8 也不是 GB18030 编码，无法读取", file=name)


# ---------------------------------------------------------------- .txt / .md

_RULE = re.compile(r"^[-\s]*-{3,}[-\s]*$")
_TERMINAL = tuple("。！？；：”）)")
# a line that starts a heading, a box, an annex or an article is never the tail of a broken line
_HEADING_START = re.compile(
    r"^(?:[一二三四五六七八九十]、|[（(]\s*[一二三四五六七八九十]+\s*[）)]|专栏\s*\d|附件|\d+\.\s"
    r"|第[一二三四五六七八九十百零〇\d]+[章节条])"
)


# the signature and date closing a notice (落款) never continue the line above
_SIGNATURE = re.compile(
    r"^\s*(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|[（(]\d{4}年\d{1,2}月\d{1,2}日[）)]"
    r"|\S{2,20}(?:人民政府|办公厅|办公室|委员会|局|厅))\s*$"
)


def read_text(raw: str, *, markdown: bool = False) -> Extracted:
    """Plain text, as extracted from a PDF or typed: a line is a paragraph, tab-separated cells a row.

    Extraction noise is dropped and listed in ``removed``: <p> tags, rules (-----), the last
    characters of a page repeated at the top of the next. A paragraph broken by a blank line
    (a page end) in mid-sentence is joined again.
    """
    if markdown:
        raw = _markdown_to_text(raw)
    blocks: list[Block] = []
    removed: list[str] = []
    gap = False
    for no, line in enumerate(raw.splitlines(), 1):
        stripped = TAGS.sub("", line).rstrip(" \r\n\u3000")
        if not stripped.strip():
            gap = True
            continue
        if _RULE.match(stripped):
            removed.append(stripped)
            continue
        last = blocks[-1] if blocks else None
        if "\t" in stripped:
            row = Row(stripped.split("\t"), stripped, no)
            if isinstance(last, Table):
                last.rows.append(row)  # a blank line between rows is a page break, not a new table
            else:
                blocks.append(Table([row], no))
        elif (
            isinstance(last, Paragraph)
            and gap
            and len(last.text) >= 20
            and not last.text.endswith(_TERMINAL)
            and not _HEADING_START.match(stripped)
            and not _SIGNATURE.match(stripped)
            and not last.text.startswith("附件")
        ):
            last.text += stripped.lstrip()
        elif isinstance(last, Paragraph) and (dup := _duplicate_head(last.text, stripped)):
            removed.append(stripped[:dup])
            blocks.append(Paragraph(stripped[dup:], no))
        else:
            blocks.append(Paragraph(stripped, no))
        gap = False
    return Extracted("md" if markdown else "txt", blocks, removed)


def _duplicate_head(prev: str, cur: str) -> int:
    """Length of a short sentence end that ``cur`` starts with and ``prev`` already ends with."""
    m = re.match(r"^[^。，]{1,3}。", cur)
    if m and prev.endswith(m.group(0)) and len(cur) > len(m.group(0)):
        return len(m.group(0))
    return 0


_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _markdown_to_text(raw: str) -> str:
    """Headings' #, emphasis and pipe tables to the plain form read_text takes."""
    out = []
    for line in raw.splitlines():
        if _MD_TABLE_RULE.match(line):
            continue
        s = line.strip()
        if s.startswith("|") and s.endswith("|") and len(s) > 1:
            out.append("\t".join(c.strip() for c in s[1:-1].split("|")))
            continue
        line = re.sub(r"^\s{0,3}#{1,6}\s+", "", line)
        line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line)
        out.append(line.replace("\t", " "))
    return "\n".join(out)


# ---------------------------------------------------------------- .docx

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_docx(data: bytes, *, name: str = "") -> Extracted:
    """Body paragraphs and tables in document order; a merged cell's text once, in its first cell."""
    if data.startswith(_OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise EncryptedDocumentError("Word 文件设有打开密码，请去掉密码后再添加", file=name)
        raise UnsupportedFormatError(
            "这是旧版 Word（.doc）文件，请另存为 .docx 后再添加", file=name
        )
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table as DocxTable

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as e:
        raise DamagedFileError(f"无法作为 Word 文档打开（{type(e).__name__}）", file=name) from e
    except Exception as e:  # a zip whose parts python-docx cannot read (AttributeError, lxml)
        raise DamagedFileError("无法作为 Word 文档打开，文件可能已损坏", file=name) from e
    blocks: list[Block] = []
    for n, item in enumerate(document.iter_inner_content(), 1):
        if isinstance(item, DocxTable):
            table = _docx_table(item, n)
            if table.rows:
                blocks.append(table)
            continue
        for part in item.text.split("\n"):  # a soft line break starts a new line
            text = part.replace("\t", " ").translate(_SPACES).strip()
            if text:
                blocks.append(Paragraph(text, n))
    return Extracted("docx", blocks, unit="段")


def _docx_table(table, n: int) -> Table:
    from docx.table import _Cell

    rows: list[Row] = []
    header = None
    for i, tr in enumerate(table._tbl.tr_lst):
        cells: list[str] = []
        for tc in tr.tc_lst:
            if tc.vMerge == "continue":
                text = ""  # the lower part of a vertically merged cell: its text is above
            else:
                paras = [
                    p.text.replace("\t", " ").translate(_SPACES).strip()
                    for p in _Cell(tc, table).paragraphs
                ]
                text = " ".join(p for p in paras if p)
            cells.append(text)
            cells.extend([""] * (tc.grid_span - 1))
        if i == 0:
            trPr = tr.trPr
            header = (
                trPr is not None
                and trPr.find(
                    "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}tblHeader"
                )
                is not None
            )
        rows.append(Row(cells, "\t".join(cells), n))
    return Table(rows, n, header=header or None)


# ---------------------------------------------------------------- .pdf


@dataclass
class _Char:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


@dataclass
class _Line:
    chars: list[_Char]
    page: int

    @property
    def text(self) -> str:
        return "".join(c.text for c in self.chars)

    @property
    def x0(self) -> float:  # where the ink starts: a first-line indent of spaces is not ink
        return min((c.x0 for c in self.chars if c.text.strip()), default=self.chars[0].x0)

    @property
    def x1(self) -> float:
        return max(c.x1 for c in self.chars)

    @property
    def top(self) -> float:
        return min(c.top for c in self.chars)

    @property
    def bottom(self) -> float:
        return max(c.bottom for c in self.chars)

    @property
    def size(self) -> float:
        return statistics.median(c.size for c in self.chars) or 10.0


_PAGE_NUMBER = re.compile(r"^[-—–\s]*\d{1,4}[-—–\s]*$|^第\s*\d+\s*页(\s*共\s*\d+\s*页)?$")
_CJK_START = re.compile(r"^[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018-\u201d“”]")


def read_pdf(data: bytes, *, name: str = "", limits: IngestLimits | None = None) -> Extracted:
    """A text-based PDF: characters by PDFium, tables by pdfplumber; page numbers dropped."""
    import pdfplumber
    import pypdfium2 as pdfium

    limits = limits or IngestLimits()
    if not data.lstrip()[:1024].startswith(b"%PDF") and b"%PDF" not in data[:1024]:
        raise DamagedFileError("不是有效的 PDF 文件", file=name)
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise EncryptedDocumentError("PDF 设有打开密码，请去掉密码后再添加", file=name) from e
        raise DamagedFileError(f"PDF 文件已损坏，无法打开（{e}）", file=name) from e
    try:
        n_pages = len(doc)
        if n_pages == 0:
            raise EmptyDocumentError("PDF 没有页面", file=name)
        if n_pages > limits.max_pages:
            raise FileTooLargeError(
                f"PDF 有 {n_pages} 页，超过上限 {limits.max_pages} 页", file=name
            )
        pages = [(_pdfium_chars(doc[i]), doc[i].get_size()) for i in range(n_pages)]
    finally:
        doc.close()
    if not any(chars for chars, _ in pages):
        raise NoTextLayerError(
            "PDF 没有文字层（可能是扫描件或图片），请先做文字识别（OCR）或提供 Word、文本版本",
            file=name,
        )
    try:
        with pdfplumber.open(io.BytesIO(data)) as pl:
            tables = [[_table_cells(t) for t in page.find_tables()] for page in pl.pages]
    except Exception as e:  # pdfminer raises many types on odd files; text alone still reads
        logger.warning("pdf tables not found in %s: %s", name, e)
        tables = [[] for _ in pages]
    return _pdf_blocks(pages, tables, n_pages)


def _pdfium_chars(page) -> list[_Char]:
    import pypdfium2.raw as pdfium_c

    tp = page.get_textpage()
    _, height = page.get_size()
    n = tp.count_chars()
    text = tp.get_text_range(0, n) if n else ""
    chars = []
    for i in range(n):
        ch = text[i] if len(text) == n else tp.get_text_range(i, 1)
        if ch in "\r\n\x00\x02\ufffe\uffff":
            continue
        left, bottom, right, top = tp.get_charbox(i, loose=True)
        size = pdfium_c.FPDFText_GetFontSize(tp, i)
        chars.append(_Char(ch, left, right, height - top, height - bottom, size))
    tp.close()
    return chars


def _table_cells(table) -> tuple[tuple[float, float, float, float], list[list]]:
    return table.bbox, [list(row.cells) for row in table.rows]


def _inside(c: _Char, box) -> bool:
    x, y = (c.x0 + c.x1) / 2, (c.top + c.bottom) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _lines(chars: list[_Char], page: int) -> list[_Line]:
    """Characters into lines: same baseline band, left to right."""
    lines: list[_Line] = []
    for c in sorted(chars, key=lambda c: (round((c.top + c.bottom) / 2), c.x0)):
        mid = (c.top + c.bottom) / 2
        if lines:
            cur = lines[-1]
            cmid = (cur.top + cur.bottom) / 2
            if abs(mid - cmid) < 0.45 * max(cur.size, c.size, 1.0):
                cur.chars.append(c)
                continue
        lines.append(_Line([c], page))
    for ln in lines:
        ln.chars.sort(key=lambda c: c.x0)
        # a space ending a line is layout; one that starts a wrapped line is text (a no-break
        # space the layout carried over); a paragraph's own leading spaces are stripped later
        while ln.chars and not ln.chars[-1].text.strip():
            ln.chars.pop()
    return [ln for ln in lines if ln.chars and ln.text.strip()]


def _pdf_blocks(pages, tables, n_pages: int) -> Extracted:
    removed: list[str] = []
    items: list[tuple[int, float, object]] = []  # (page, top, _Line | Table)
    for p, ((chars, (_, height)), page_tables) in enumerate(zip(pages, tables, strict=True), 1):
        boxes = [bbox for bbox, _ in page_tables]
        body = [c for c in chars if not any(_inside(c, b) for b in boxes)]
        for ln in _lines(body, p):
            if _PAGE_NUMBER.match(ln.text.strip()) and (
                ln.top > height * 0.88 or ln.bottom < height * 0.12
            ):
                removed.append(ln.text.strip())
                continue
            items.append((p, ln.top, ln))
        for bbox, rows in page_tables:
            in_table = [c for c in chars if _inside(c, bbox)]
            items.append((p, bbox[1], _pdf_table(rows, in_table, p)))
    items.sort(key=lambda t: (t[0], t[1]))
    lines = [it for _, _, it in items if isinstance(it, _Line)]
    left = _mode([round(ln.x0) for ln in lines]) if lines else 0.0
    right = max((ln.x1 for ln in lines), default=0.0)
    pitches = [b.top - a.top for a, b in itertools.pairwise(lines) if a.page == b.page]
    pitch = statistics.median([p for p in pitches if p > 0] or [0.0])
    # paragraphs set apart by space (rather than by a first-line indent): then a line that
    # ends early, with no space after it, lost a space at the line break
    spaced = sum(p > 1.3 * pitch for p in pitches) >= 0.05 * max(len(pitches), 1)
    blocks: list[Block] = []
    prev: _Line | None = None
    for _, _, it in items:
        if isinstance(it, Table):
            if it.rows:
                blocks.append(it)
            prev = None
            continue
        ln = it
        if prev is not None and isinstance(blocks[-1], Paragraph):
            joiner = _continues(prev, ln, left, right, pitch, spaced)
            if joiner is not None:
                blocks[-1].text += joiner + ln.text
                prev = ln
                continue
        blocks.append(Paragraph(ln.text, ln.page))
        prev = ln
    for b in blocks:
        if isinstance(b, Paragraph):
            b.text = b.text.translate(_SPACES).strip()
    return Extracted(
        "pdf",
        [b for b in blocks if not isinstance(b, Paragraph) or b.text],
        removed,
        unit="页",
        pages=n_pages,
    )


def _mode(values: list[float]) -> float:
    return statistics.mode(values)


def _continues(
    prev: _Line, cur: _Line, left: float, right: float, pitch: float, spaced: bool
) -> str | None:
    """How ``cur`` joins the paragraph that ``prev`` ends ("" or " "), or None if it starts one."""
    size = max(prev.size, cur.size)
    if cur.page == prev.page and cur.top - prev.top > 1.3 * max(pitch, size):
        return None  # more space than between the lines of a paragraph
    if cur.x0 - left > 0.9 * size:
        return None  # an indented first line, or a centred one
    if right - prev.x1 < _first_char_width(cur) + 0.1 * size:
        # the next character did not fit: wrapped; a line set in by less than a character
        # starts with a space that PDFium does not report
        return " " if cur.x0 - left > 0.25 * size else ""
    if spaced and cur.page == prev.page:
        return " "  # broken at a space, which the layout dropped
    return None  # it would have fitted on the line above: a new paragraph


def _first_char_width(line: _Line) -> float:
    c = next((c for c in line.chars if c.text.strip()), line.chars[0])
    return c.x1 - c.x0


def _pdf_table(rows: list[list], chars: list[_Char], page: int) -> Table:
    out: list[Row] = []
    for cells in rows:
        texts = []
        for box in cells:
            if box is None:
                texts.append("")  # covered by a merged cell to the left or above
                continue
            mine = [c for c in chars if _inside(c, box)]
            texts.append(_cell_text(_lines(mine, page), box))
        if any(t.strip() for t in texts):
            out.append(Row(texts, "\t".join(texts), page))
    return Table(out, page)


def _cell_text(lines: list[_Line], box) -> str:
    """A cell's lines: wrapped ones joined, a break the writer made (a line ending before the next
    character would have run out of room, or a blank line) as a space."""
    if not lines:
        return ""
    right = max(ln.x1 for ln in lines)
    left = min(ln.x0 for ln in lines)
    pitches = [b.top - a.top for a, b in itertools.pairwise(lines)]
    pitch = min(pitches) if pitches else 0.0
    text = lines[0].text
    for prev, ln in itertools.pairwise(lines):
        size = max(prev.size, ln.size)
        early = right - prev.x1 >= _first_char_width(ln) + 0.1 * size
        apart = ln.top - prev.top > 1.3 * max(pitch, size)
        set_in = ln.x0 - left > 0.25 * size  # starts with a space PDFium does not report
        text += (" " if early or apart or set_in else "") + ln.text
    return text.translate(_SPACES).strip()
