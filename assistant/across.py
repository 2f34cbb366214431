"""Answers across documents: the newest document in force answers first, the older one is named.

Used by Service.answer at one place (``Across.apply``), only when the library holds more than the
default plan; with the seed alone nothing here runs and answers are exactly as before.

- **Which document speaks first**: documents are ordered by (in force today, date issued). When
  the best source comes from one document and a source of a later one is among the first few
  with comparable evidence, the later one answers first, with its date, and the earlier one is
  named after it ("2018年规划为：…").
- **Years**: a question about 2021 is not "after the plan's period" when a document in the
  library speaks for 2021 (issued by then, and in its period or, without one, not in the future).
- **Period caveat**: each document's own (title, 文号, date, period).
- **Which document a question names**: "这个通知"/"这份办法" — the kind of document in its
  title — when exactly one document has that kind.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass

from .documents import DEFAULT_DOCUMENT, Plan, PlanMeta

# how far down the ranking a later document's source may be, and how much weaker, to answer first
WINDOW = 3
RATIO = 0.6
# another document's best source answers when it or its document was named, or its best passage is
# this close to the question (cosine, e5), or holds this share of the question's words.
# Calibrated on the training sets, not on a test set: the 278 training traps about nothing in any
# document (天气, 护照, 公积金) come this close to the two fixture documents' passages at the 90th
# percentile (0.889; 0.893 at the 95th); at 0.89, 7.9 % of them pass on similarity alone, while
# 84 % of the fixture questions' best passages do
DENSE_FLOOR = 0.89
LEXICAL_FLOOR = 0.6
KINDS = ("规划", "通知", "办法", "细则", "意见", "规定", "方案", "决定", "公告", "通告", "条例")
# what a question about a document itself asks: its number, who issued it, when
_ABOUT = re.compile(
    r"文号|发文|印发|发布|哪个(?:部门|单位|机关)(?:发|出|制定|下发)|什么时候(?:发|出台)"
)
_YEARS = re.compile(r"(\d{4})\s*[–\-—~至到]+\s*(\d{4})")


def kind_of(meta: PlanMeta) -> str:
    """The kind of document its title ends with (规划, 通知, 办法…); 文件 when none."""
    title = re.sub(r"[（(][^）)]*[）)]$", "", meta.title.strip())
    return next((k for k in KINDS if title.endswith(k)), "文件")


def period_years(meta: PlanMeta) -> tuple[int, int] | None:
    m = _YEARS.search(meta.period or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def issued_year(meta: PlanMeta) -> int | None:
    m = re.match(r"(\d{4})", meta.issued or "")
    return int(m.group(1)) if m else None


def in_force(meta: PlanMeta, today: dt.date) -> bool:
    years = period_years(meta)
    return years is None or years[1] >= today.year


def speaks_for(meta: PlanMeta, year: int, today: dt.date) -> bool:
    """Whether the document sets anything for ``year``."""
    start = issued_year(meta)
    years = period_years(meta)
    if years is not None:
        return years[0] <= year <= years[1]
    return start is not None and start <= year <= today.year


def date_cn(issued: str) -> str:
    try:
        d = dt.date.fromisoformat(issued)
    except ValueError:
        return issued
    return f"{d.year}年{d.month}月{d.day}日"


def period_notice(meta: PlanMeta) -> str:
    """The caveat after quoted standards, for a document other than the default plan."""
    from .ingest.records import document_name

    name = document_name(meta.title, meta.issuer, meta.doc_number)
    number = f"（{meta.doc_number}）" if meta.doc_number else ""
    when = f"{date_cn(meta.issued)}印发的" if meta.issued else ""
    years = period_years(meta)
    span = f"，有效期为{years[0]}–{years[1]}年" if years else ""
    return f"说明：以上内容出自{when}{name}{number}{span}；现行标准请向有关部门或12345热线核实。"


@dataclass
class Across:
    plans: tuple[Plan, ...]
    today: dt.date
    containers: frozenset[str] = frozenset()  # sections that are headings without text

    @classmethod
    def of(cls, plans, today: dt.date | None = None) -> Across | None:
        """None when the library holds the default plan alone: nothing to do."""
        from .ingest.records import Section

        plans = tuple(plans)
        if len(plans) < 2:
            return None
        heads = frozenset(
            r.id for p in plans for r in p.records if isinstance(r, Section) and not r.paragraphs
        )
        return cls(plans, today or dt.date.today(), heads)

    @property
    def metas(self) -> dict[str, PlanMeta]:
        return {p.meta.id: p.meta for p in self.plans}

    def rank(self, doc: str) -> tuple:
        meta = self.metas.get(doc)
        if meta is None:
            return (False, "")
        return (in_force(meta, self.today), meta.issued or "")

    # -- before composing

    def covered_years(self, years: list[int], docs) -> list[int]:
        """The years one of ``docs`` (other than the default) speaks for."""
        others = [self.metas[d] for d in docs if d in self.metas and d != DEFAULT_DOCUMENT]
        return [y for y in years if any(speaks_for(m, y, self.today) for m in others)]

    def about_document(self, doc: str, question: str):
        """A question about a named document itself (文号, who issued it, when): its cover
        facts, cited to its opening; None when the question asks something else."""
        from .answering import Composition

        if not _ABOUT.search(question) or doc == DEFAULT_DOCUMENT or doc not in self.metas:
            return None
        from .ingest.records import document_name

        m = self.metas[doc]
        cid = f"{doc}:章节-序言"
        facts = [
            ("文号", m.doc_number),
            ("发文单位", m.issuer),
            ("印发日期", date_cn(m.issued) if m.issued else ""),
            ("有效期", m.period),
        ]
        name = document_name(m.title, m.issuer, m.doc_number)
        where = f"〔{name}正文开头〕"
        lines = [f"**{m.title}**"] + [f"- **{k}**：{v}" for k, v in facts if v]
        return Composition(text="\n".join(lines) + where, citations=[cid], answered=True)

    def named_documents(self, question: str) -> list[str]:
        """Documents the question names by their kind ("这个通知") or title, when one fits."""
        found = [
            d
            for d, m in self.metas.items()
            if m.title and (m.title in question or _short(m.title) in question)
        ]
        if found:
            return found
        kinds = {}
        for d, m in self.metas.items():
            kinds.setdefault(kind_of(m), []).append(d)
        for k, docs in kinds.items():
            if k != "文件" and re.search(rf"[这该此本那]{{1}}[个份项]?{k}", question):
                return docs if len(docs) == 1 else []
        return []

    def newer_first(self, result, doc_of) -> list:
        """Reorder ``result.hits`` so a later document's comparable source comes first.
        Returns the older document's hits that were displaced (to name after), else []."""
        hits = result.hits
        if not hits:
            return []
        top_doc = doc_of(hits[0].id)
        best = None
        for h in hits[1:WINDOW]:
            d = doc_of(h.id)
            if d == top_doc or self.rank(d) <= self.rank(top_doc):
                continue
            if h.evidence >= RATIO * hits[0].evidence:
                best = d
                break
        if best is None:
            return []
        newer = [h for h in hits if doc_of(h.id) == best]
        older = [h for h in hits if doc_of(h.id) == top_doc]
        rest = [h for h in hits if doc_of(h.id) not in {best, top_doc}]
        result.hits = newer + older + rest
        return older

    @staticmethod
    def supported(hit, min_evidence: float, named: bool = False) -> bool:
        """Whether another document's best source answers the question (see DENSE_FLOOR);
        ``named``: the question names that document ("这个通知")."""
        if hit.evidence < min_evidence:
            return False
        return (
            named or hit.via == "lookup" or hit.dense >= DENSE_FLOOR or hit.lexical >= LEXICAL_FLOOR
        )

    def by_evidence(self, result, doc_of) -> None:
        """Another document's sources, best supported first: the ranking's learned parts know
        the default plan only (its training questions ask about it), the evidence measure
        (word coverage and similarity of the best passage) is the same for every document."""
        hits = result.hits
        if not hits or doc_of(hits[0].id) == DEFAULT_DOCUMENT:
            return
        doc = doc_of(hits[0].id)
        # a heading with no text of its own answers less than the text under it; then the
        # evidence; on a tie the ranking's order
        own = sorted(
            (h for h in hits if doc_of(h.id) == doc),
            key=lambda h: (h.id in self.containers, -round(h.evidence, 3)),
        )
        result.hits = own + [h for h in hits if doc_of(h.id) != doc]

    def older_part(self, composer, question: str, result, older: list, history) -> tuple:
        """What the older document says, composed from its own sources alone."""
        sub = copy.copy(result)
        sub.hits = older
        sub.intent = copy.deepcopy(result.intent)
        comp = composer.compose(question, sub, history)
        return comp

    def label(self, doc: str) -> str:
        """2018年规划, 2021年通知: how an older document is named after a newer one answers."""
        meta = self.metas[doc]
        year = issued_year(meta)
        return f"{year}年{kind_of(meta)}" if year else kind_of(meta)

    def lead(self, doc: str) -> str:
        meta = self.metas[doc]
        from .ingest.records import document_name

        name = document_name(meta.title, meta.issuer, meta.doc_number)
        if doc == DEFAULT_DOCUMENT:
            name = f"《{meta.title}》"
        when = f"{date_cn(meta.issued)}印发的" if meta.issued else ""
        return f"按{when}{name}："


def _short(title: str) -> str:
    from .ingest.records import document_name

    return document_name(title).strip("《》")
