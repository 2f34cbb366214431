"""Writers for test material: a text document (as ``formats`` reads it) to .docx and to .pdf.

Made by the suite itself from the seed, never committed: the .docx has real Word tables (the
header row marked to repeat, group labels merged across the row, an item's further groups of
people in rows whose shared cells are merged down); the .pdf is laid out by fpdf2 with an
embedded CJK font, wrapped by character, a page number in the footer, tables ruled and their
header repeated on every page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from assistant.ingest.formats import Extracted, Paragraph, Table

try:
    from docx.oxml.ns import qn
except ImportError:  # pragma: no cover
    qn = None


def _rows(t: Table) -> tuple[list[str] | None, list[list[str]]]:
    """The header (if the first row reads as one) and the other rows, repeated headers dropped."""
    width = max(len(r.cells) for r in t.rows)
    rows = [(r.cells + [""] * width)[:width] for r in t.rows]
    first = [re.sub(r"\s+", "", c) for c in rows[0]]
    if all(first) and all(len(c) <= 10 for c in first) and not first[0].isdigit():
        body = [r for r in rows[1:] if [re.sub(r"\s+", "", c) for c in r] != first]
        return rows[0], body
    return None, rows


def _is_group(row: list[str]) -> bool:
    return bool(row[0].strip()) and not any(c.strip() for c in row[1:])


def _is_continuation(row: list[str]) -> bool:
    return not row[0].strip() and any(c.strip() for c in row[1:])


def write_docx(doc: Extracted, path: Path) -> Path:
    import docx
    from docx.table import _Cell

    d = docx.Document()
    for b in doc.blocks:
        if isinstance(b, Paragraph):
            d.add_paragraph(b.text)
            continue
        header, body = _rows(b)
        rows = ([header] if header else []) + body
        width = len(rows[0])
        t = d.add_table(rows=len(rows), cols=width)
        t.style = "Table Grid"
        first_body = 1 if header else 0
        # merges are written as Word writes them (gridSpan, vMerge); python-docx's cell() and
        # merge() recompute the whole grid on every call, minutes for the seed's 附件1
        for i, (tr, cells) in enumerate(zip(t._tbl.tr_lst, rows, strict=True)):
            tcs = list(tr.tc_lst)
            if i >= first_body and _is_group(cells):
                _Cell(tcs[0], t).text = cells[0]
                tcs[0].get_or_add_tcPr().append(_w("w:gridSpan", str(width)))
                for tc in tcs[1:]:
                    tr.remove(tc)
                continue
            continuation = i > first_body and _is_continuation(cells)
            for j, (tc, text) in enumerate(zip(tcs, cells, strict=True)):
                if text:
                    _Cell(tc, t).text = text
                elif continuation:
                    tc.get_or_add_tcPr().append(_w("w:vMerge", "continue"))
                    above = rows[i - 1][j]
                    if above and i - 1 >= first_body and not _is_continuation(rows[i - 1]):
                        prev_tc = t._tbl.tr_lst[i - 1].tc_lst[j]
                        if prev_tc.tcPr is None or prev_tc.tcPr.find(qn("w:vMerge")) is None:
                            prev_tc.get_or_add_tcPr().append(_w("w:vMerge", "restart"))
        if header:
            t._tbl.tr_lst[0].get_or_add_trPr().append(_w("w:tblHeader", "true"))
    d.save(path)
    return path


def _w(tag: str, val: str):
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    el = OxmlElement(tag)
    el.set(qn("w:val"), val)
    return el


def cjk_font() -> tuple[str, int] | None:
    """A CJK font file on this machine (Debian's fonts-noto-cjk) and its Simplified Chinese face."""
    candidates = sorted(Path("/usr/share/fonts").glob("**/NotoSansCJK*-Regular.tt[cf]"))
    candidates += sorted(Path("/usr/share/fonts").glob("**/NotoSerifCJK*-Regular.tt[cf]"))
    if not candidates and shutil.which("fc-list"):
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False
        ).stdout
        candidates = [Path(x.strip().rstrip(":")) for x in out.splitlines() if x.strip()]
    for path in candidates:
        if path.suffix.lower() != ".ttc":
            return str(path), 0
        from fontTools.ttLib import TTCollection

        for i, font in enumerate(TTCollection(str(path), lazy=True).fonts):
            if "SC" in str(font["name"].getDebugName(1)):
                return str(path), i
        return str(path), 0
    return None


def write_pdf(doc: Extracted, path: Path, font: tuple[str, int]) -> Path:
    from fpdf import FPDF, FontFace
    from fpdf.enums import WrapMode

    class Document(FPDF):
        def footer(self):
            self.set_y(-12)
            self.set_font("cjk", size=9)
            self.cell(0, 6, f"— {self.page_no()} —", align="C")

    pdf = Document(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_font("cjk", fname=font[0], collection_font_number=font[1])
    fallback = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if fallback.exists():  # superscripts ⁵⁶⁷ are not in Noto CJK
        pdf.add_font("dejavu", fname=str(fallback))
        pdf.set_fallback_fonts(["dejavu"])
    pdf.set_font("cjk", size=10.5)
    pdf.add_page()
    for b in doc.blocks:
        if isinstance(b, Paragraph):
            pdf.multi_cell(
                0, 6, _nbsp(b.text), wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT"
            )
            pdf.ln(3)
            continue
        header, body = _rows(b)
        width = len(header or body[0])
        weights = []
        for j in range(width):
            lengths = sorted(len(r[j]) for r in ([header] if header else []) + body)
            weights.append(max(5, min(60, lengths[len(lengths) * 3 // 4])))
        spans = _row_spans(body)
        pdf.set_font("cjk", size=9)
        with pdf.table(
            col_widths=tuple(weights),
            first_row_as_headings=header is not None,
            repeat_headings=1 if header is not None else 0,
            headings_style=FontFace(emphasis=""),
            wrapmode=WrapMode.CHAR,
            line_height=5,
            text_align="LEFT",
        ) as table:
            if header:
                row = table.row()
                for text in header:
                    row.cell(_nbsp(text))
            for i, cells in enumerate(body):
                row = table.row()
                if _is_group(cells):
                    row.cell(_nbsp(cells[0]), colspan=width)
                    continue
                for j, text in enumerate(cells):
                    if (i, j) in spans["covered"]:
                        continue
                    row.cell(_nbsp(text), rowspan=spans["span"].get((i, j), 1))
        pdf.set_font("cjk", size=10.5)
        pdf.ln(3)
    pdf.output(str(path))
    return path


def _nbsp(text: str) -> str:
    """Spaces as figure spaces (U+2007), which fpdf2 keeps at a line break: a plain or no-break space
    that falls at a line end is dropped, is not in the PDF at all, and no reader can restore it;
    the seed's spaces carry meaning (two groups of people in one cell)."""
    return text.replace(" ", "\u2007")


def _row_spans(body: list[list[str]]) -> dict:
    """Cells an item shares with its continuation rows: merged down over the empty cells below."""
    span: dict[tuple[int, int], int] = {}
    covered: set[tuple[int, int]] = set()
    for i, cells in enumerate(body):
        if _is_group(cells) or _is_continuation(cells):
            continue
        k = i + 1
        while k < len(body) and _is_continuation(body[k]):
            k += 1
        if k == i + 1:
            continue
        for j in range(len(cells)):
            n = 1
            while i + n < k and not body[i + n][j].strip():
                covered.add((i + n, j))
                n += 1
            if n > 1:
                span[(i, j)] = n
    return {"span": span, "covered": covered}
