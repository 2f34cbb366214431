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
- **Which passage of another document** (Within): the ranking's learned parts know the plan
  only; inside another document the question's clue words (weighed in that document), the
  asked kind of figure, a row named by its number and paragraphs before table rows decide.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import threading
from dataclasses import dataclass, field

import numpy as np

from .answer import detail
from .documents import DEFAULT_DOCUMENT, Plan, PlanMeta, TableRow

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
# or holds this share of the question's own words weighed inside its document (Within.support);
# set on the fixture documents' development questions: their traps reach 0.27 at most
SUPPORT_FLOOR = 0.5
KINDS = ("规划", "通知", "办法", "细则", "意见", "规定", "方案", "决定", "公告", "通告", "条例")
# what a question about a document itself asks: its number, who issued it, when
_ABOUT = re.compile(
    r"文号|发文|印发|发布|哪个(?:部门|单位|机关)(?:发|出|制定|下发)|什么时候(?:发|出台)"
)
_YEARS = re.compile(r"(\d{4})\s*[–\-—~至到]+\s*(\d{4})")
# the ranking inside another document (Within), set on the development questions written for
# the fixture documents (tests/fixtures/docs/*-dev.jsonl), not on their test sets:
# - a word in more than this share of a document's passages is its subject, not a clue
SUBJECT_SHARE = 0.3
# - the passage holding the question's clues leads when its word score beats the first
#   source's by this share of the best word score (0.3 to 1.0 gave the same dev results)
MARGIN = 0.5
# - passages the ranking did not return are ordered by words and, per unit of cosine, by
#   similarity relative to the document's closest passage
DENSE_WEIGHT = 1.0
# a table row named by its number: 附件1第2行, 标准表里第4行
_N = "\\d一二三四五六七八九十"
_ROW = re.compile(
    rf"(?:附件\s*([{_N}]+)[^，。？?]{{0,12}}?|表[^，。？?]{{0,6}}?)第\s*([{_N}]+)\s*行"
)
# a calendar date is no duration: 2021年7月1日 does not say how long anything takes
_DATE = re.compile(r"\d{2,4}年\d{1,2}月(?:\d{1,2}日)?|\d{1,2}月\d{1,2}日")
# a later document leads only when it answers the same thing as the earlier one (Across.same):
# - it holds at least as much of the question's own words as the earlier one (Across._cover:
#   rarer words weigh more, a word counts by the share of its character pairs held, with the
#   record's headings and its document's title). On the fixtures' development questions and
#   dev-v3 (72 questions where both documents came near; not team-v1, not the fixtures' test
#   sets) every one the later document answers had a share at least the earlier one's, every
#   one the plan answers a lower share (by 0.03 to 0.49) but one follow-up with no words of
#   its own (a tie; the later document's article then lacked support, see by_evidence)
# - and, when the question asks an amount, a duration, who pays or which unit (and the earlier
#   passage says so), it says so too: 附件1's row of new amounts names no unit. (Who may apply
#   is not checked: "不予临时救助" answers it in words no list of cues holds.) Inside another
#   document, a passage that says who pays / which unit leads such a question (Within).
_FIELDS = {
    "funding": re.compile(r"财政|资金|经费|承担|负担|分担|列支|筹集|支出"),
    "department": re.compile(r"部门|[厅局]|委员会|政府|街道|办事处|机关|单位"),
}
# an amount a document states as a multiple of a standard (救助金额最高可达12个月的…保障标准);
# and "how much" asked without a unit (一次给多少), which answer/detail.py leaves open
_MULTIPLE = re.compile(
    rf"[\d.{_N}]+\s*(?:个月|倍)的?[^。；，]{{0,12}}标准|标准的\s*[\d.{_N}]+\s*倍"
)
_HOW_MUCH = re.compile(r"多少(?![岁年天次回个周人份项家])")
# the order newer_first proposed, checked by by_evidence (which has the index) in this thread
_PENDING = threading.local()


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
    # the order inside each document that has answered (Within), built on first use
    _within: dict = field(default_factory=dict, repr=False, compare=False)

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
        Returns the older document's hits (to name after the later one answers), else [].

        Proposed here, decided in ``by_evidence`` (which has the index): the later document
        keeps the lead only when it answers the same thing as the earlier one (``same``);
        otherwise the earlier one answers alone. That holds too when the ranking itself put
        the later document first with the earlier one close behind."""
        _PENDING.check = None
        hits = result.hits
        if not hits:
            return []
        top_doc = doc_of(hits[0].id)
        best = None
        for h in hits[1:WINDOW]:
            d = doc_of(h.id)
            if d == top_doc or h.evidence < RATIO * hits[0].evidence:
                continue
            if self.rank(d) < self.rank(top_doc):  # the first is the later one already
                _PENDING.check = (result, list(hits), top_doc, d)
                return [x for x in hits if doc_of(x.id) == d]
            if self.rank(d) > self.rank(top_doc):
                best = d
                break
        if best is None:
            return []
        _PENDING.check = (result, list(hits), best, top_doc)
        newer = [h for h in hits if doc_of(h.id) == best]
        older = [h for h in hits if doc_of(h.id) == top_doc]
        rest = [h for h in hits if doc_of(h.id) not in {best, top_doc}]
        result.hits = newer + older + rest
        return older

    def same(self, result, new, old, index) -> bool:
        """Whether the later document's source ``new`` answers what the earlier one's ``old``
        answers: it names the earlier document (a notice's "规划…第56项所列标准同时按本通知调整"),
        or it says the asked kind of thing when ``old`` does (an amount, a duration, who pays,
        which unit) and holds at least as much of the question's own words. "非寄宿生的生活补助由哪几级财政分担" is not answered by a notice's
        资金保障 about orphans; "散居孤儿每个月生活费多少钱" is, by its new amount."""
        new_text, old_text = _text(index, new.id), _text(index, old.id)
        if not new.id.endswith(":章节-序言") and self._names(new_text, old.id):
            # "规划附件1第56项所列…标准同时按本通知调整" speaks of the earlier one (its opening,
            # which says what it is based on, does not)
            return True
        if self._states(result, old_text) and not self._states(result, new_text):
            return False
        words = _words(index, result.focus) or _words(index, result.query)
        if not words:
            return True
        return self._cover(index, words, new.id) >= self._cover(index, words, old.id)

    def _cover(self, index, words: list[str], cid: str) -> float:
        """The share of the question's words that the record's passages (with their headings)
        or its document's title hold, each word weighed by its rarity (as retrieval's
        coverage) and held in the share of its character pairs found: pairs, because the
        index's words are the plan's (机构集中养育的孤儿 is one there, and a notice's
        机构集中养育孤儿 would not hold it); the title, because a notice on 高龄津贴 is about
        高龄津贴 in every section."""
        doc = cid.partition(":")[0] if ":" in cid else DEFAULT_DOCUMENT
        meta = self.metas.get(doc)
        text = "\n".join(
            [meta.title if meta else "", _text(index, cid)]
            + [d.page_content for d in index.chunks_of(cid)]
        )
        total = held = 0.0
        for w in words:
            weight = index.idf.get(w, 3.0)
            pairs = [w[i : i + 2] for i in range(len(w) - 1)]
            total += weight
            held += weight * sum(p in text for p in pairs) / len(pairs)
        return held / total if total else 0.0

    def _names(self, text: str, cid: str) -> bool:
        """Whether a passage names the document ``cid`` is from, by its title or its 文号."""
        doc = cid.partition(":")[0] if ":" in cid else DEFAULT_DOCUMENT
        meta = self.metas.get(doc)
        if meta is None:
            return False
        return bool(meta.title and meta.title in text) or bool(
            meta.doc_number and meta.doc_number in text
        )

    @staticmethod
    def _states(result, text: str) -> bool:
        """Whether a text says what the question asks: the asked figure (answer/detail.py),
        else who pays / which unit when it asks that; True otherwise."""
        asked = detail.asked(result.focus)
        if asked:
            return detail.holds(_DATE.sub("", text), asked)
        kinds = getattr(result.intent, "kinds", set())
        for kind, pattern in _FIELDS.items():
            if kind in kinds:
                return bool(pattern.search(text))
        return True

    def supported(self, hit, min_evidence: float, named: bool = False, result=None) -> bool:
        """Whether another document's best source answers the question (see DENSE_FLOOR);
        ``named``: the question names that document ("这个通知"); with the ``result``, also
        when the passage holds most of the question's own words, weighed inside its document
        (Within.support: 施行 in a 办法 that says 施行 once)."""
        if hit.evidence < min_evidence:
            return False
        if named or hit.via == "lookup" or hit.dense >= DENSE_FLOOR or hit.lexical >= LEXICAL_FLOOR:
            return True
        doc = hit.id.partition(":")[0] if ":" in hit.id else DEFAULT_DOCUMENT
        within = self._within.get(doc)
        return (
            result is not None
            and within is not None
            and within.support(result, hit.id) >= SUPPORT_FLOOR
        )

    def by_evidence(self, result, doc_of, retriever=None) -> None:
        """Another document's sources, best first, by the passages' own evidence: the ranking's
        learned parts know the default plan only (its training questions ask about it), and
        the library-wide evidence measure saturates inside one document (every passage of a
        notice on 高龄津贴 holds 高龄津贴 and is close to the question). With ``retriever`` (its
        index and store) every passage of that document is scored (Within); without, the
        evidence of the sources found orders them."""
        pending = getattr(_PENDING, "check", None)
        _PENDING.check = None
        self._within_order(result, doc_of, retriever)
        if retriever is None:
            return
        if pending is not None and pending[0] is result:
            _, before, newer, older = pending
            hits = result.hits
            old = next((h for h in before if doc_of(h.id) == older), None)
            leads = bool(hits) and doc_of(hits[0].id) == newer and old is not None
            if leads and not self.same(result, hits[0], old, retriever.index):
                # the earlier document answers alone: its sources first
                self._first(result, older, doc_of)
                return
        # another document that cannot answer (no support of its own, see supported) does not
        # keep the plan from answering: the answer is then the one without that document
        hits = result.hits
        if (
            hits
            and doc_of(hits[0].id) != DEFAULT_DOCUMENT
            and any(doc_of(h.id) == DEFAULT_DOCUMENT for h in hits)
            and not self.supported(hits[0], retriever.settings.min_evidence, result=result)
        ):
            self._first(result, DEFAULT_DOCUMENT, doc_of)

    @staticmethod
    def _first(result, doc: str, doc_of) -> None:
        """``doc``'s sources first, then the others, each in the order they have."""
        hits = result.hits
        result.hits = [h for h in hits if doc_of(h.id) == doc] + [
            h for h in hits if doc_of(h.id) != doc
        ]

    def _within_order(self, result, doc_of, retriever=None) -> None:
        hits = result.hits
        if not hits or doc_of(hits[0].id) == DEFAULT_DOCUMENT:
            return
        doc = doc_of(hits[0].id)
        if retriever is not None and doc in self.metas:
            ranked = self.within(doc, retriever).rank(result, hits)
            if ranked:
                result.hits = ranked + [h for h in hits if doc_of(h.id) != doc]
                return
        # a heading with no text of its own answers less than the text under it; then the
        # evidence; on a tie the ranking's order
        own = sorted(
            (h for h in hits if doc_of(h.id) == doc),
            key=lambda h: (h.id in self.containers, -round(h.evidence, 3)),
        )
        result.hits = own + [h for h in hits if doc_of(h.id) != doc]

    def within(self, doc: str, retriever) -> Within:
        """The ranking inside one document, built on first use and kept until the library
        changes (a new Across is made then)."""
        cache = self._within
        w = cache.get(doc)
        if w is None or w.index is not retriever.index:
            plan = next(p for p in self.plans if p.meta.id == doc)
            w = cache[doc] = Within(plan, retriever.index, self.containers)
        w.store = retriever.vectorstore
        return w

    def older_part(self, composer, question: str, result, older: list) -> tuple:
        """What the older document says, composed from its own sources alone."""
        sub = copy.copy(result)
        sub.hits = older
        sub.intent = copy.deepcopy(result.intent)
        comp = composer.compose(question, sub)
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


def _own_words(chunk) -> str:
    """A passage with its own heading but not the headings above it: the rules' chapter
    "第四章 申请与审批" heads five articles, so 审批 in it tells none of them apart (and made
    审批 the document's subject)."""
    text = chunk.page_content
    head = chunk.metadata.get("heading") or ""
    if head and text.startswith(head + "\n"):
        return head.rpartition(" › ")[2] + "\n" + text[len(head) + 1 :]
    return text


def _words(index, text: str) -> list[str]:
    """A question's own words (not its question words, not single characters, not a word made
    of others it has); a follow-up without any ("多长时间做一次？") is read with the turn it follows (``result.query``)."""
    words = {t for t in index.content_tokens(index.tokenizer.tokens(index.expand(text)[0]))}
    words = {t for t in words if len(t) > 1}
    # the finest words: 机构集中养育的孤儿 (a word of the plan's vocabulary) is 机构, 集中…
    return sorted(w for w in words if not any(o != w and o in w for o in words))


def _text(index, cid: str) -> str:
    rec = index.records.get(cid)
    return f"{rec.title}\n{rec.text}" if rec is not None else ""


def _short(title: str) -> str:
    from .ingest.records import document_name

    return document_name(title).strip("《》")


class Within:
    """The order of one document's passages for a question, for a document other than the
    default plan. The ranking's learned re-ranker knows the plan only (neighbour votes of its
    training questions, kind of record against kind of ask), and the library-wide evidence
    saturates inside one document: every passage of a notice on 高龄津贴 holds 高龄津贴 and
    lies close to the question. The ranking's order stays the starting point; then:

    - **A row named by its number** (附件1第2行, 标准表里第4行) answers, as a lookup.
    - **Table rows** a question does not name (none of the words of its name that no other
      row of its table has) go after the paragraphs, which hold the same figures with their
      words: "高龄津贴多久发一次" is not a question about 80至89周岁老年人.
    - **The question's clues**: BM25 over this document's passages alone, without its
      subject (words most of its passages hold: 临时救助 in a 临时救助办法) and without single
      characters (不, 由, 只: function words weigh much in a small document by chance). The
      passage that holds them clearly better than the first source leads (施行 → 第十九条).
    - **The asked figure**: when the question asks how long, how much, how often
      (answer/detail.py) and the first source states no figure of that kind, the passages that
      do come first, the best by clues leading (审核要多长时间 → the article with 5个工作日,
      not the one that names who 审核s); a date is no duration.
    - Passages the ranking did not return are found too, by clues and similarity (the store,
      filtered to this document).
    """

    def __init__(self, plan: Plan, index, containers: frozenset[str] = frozenset()):
        import bm25s

        self.doc = plan.meta.id
        self.index = index
        self.store = None
        self.records = [r for r in plan.records if r.id in index.records and r.id not in containers]
        self.by_id = {r.id: r for r in self.records}
        self.chunk_ids: list[str] = []
        self.owner: list[str] = []
        for r in self.records:
            for d in index.chunks_of(r.id):
                self.chunk_ids.append(d.id)
                self.owner.append(r.id)
        # the title printed at the head of the document is its name, not what its opening says
        title = plan.meta.title or "\0"
        self.tokens = [
            index.tokenizer.tokens(_own_words(index.chunks[index.chunk_pos[c]]).replace(title, " "))
            for c in self.chunk_ids
        ]
        n = len(self.tokens)
        df: dict[str, int] = {}
        for ts in self.tokens:
            for t in set(ts):
                df[t] = df.get(t, 0) + 1
        # BM25's weight of a word inside this document
        self.idf = {t: float(np.log(1 + (n - d + 0.5) / (d + 0.5))) for t, d in df.items()}
        self.subject = frozenset(t for t, d in df.items() if n >= 4 and d > SUBJECT_SHARE * n)
        self.bm25 = bm25s.BM25()
        if self.tokens:
            self.bm25.index(self.tokens, show_progress=False)
        self.row_words = self._row_words()

    def _row_words(self) -> dict[str, frozenset[str]]:
        """Each table row's own words: those of its name that no other row of its table has."""
        tables: dict[int, list[TableRow]] = {}
        for r in self.records:
            if isinstance(r, TableRow):
                tables.setdefault(r.annex, []).append(r)
        out = {}
        for rows in tables.values():
            words = {r.id: frozenset(self.index.tokenizer.tokens(r.title)) for r in rows}
            for cid, w in words.items():
                others = frozenset().union(*(v for k, v in words.items() if k != cid))
                out[cid] = w - others
        return out

    def _cosines(self, vector) -> dict[str, float]:
        if self.store is None or vector is None or not self.chunk_ids:
            return {}
        try:
            res = self.store._collection.query(
                query_embeddings=[vector],
                n_results=min(len(self.chunk_ids), 50),
                where={"plan": self.doc},
                include=["distances"],
            )
        except Exception:  # the store is down: the words alone order them (as BM25-only does)
            return {}
        return {c: 1.0 - float(d) for c, d in zip(res["ids"][0], res["distances"][0], strict=True)}

    def _clues(self, words: list[str]) -> np.ndarray:
        """BM25 of the question's clues per passage, against the most they could score."""
        clues = [t for t in words if len(t) > 1 and t in self.idf and t not in self.subject]
        if not clues:
            return np.zeros(len(self.chunk_ids))
        most = (self.bm25.k1 + 1) * sum(self.idf[t] for t in set(clues))
        return self.bm25.get_scores(clues) / most

    def _row_named(self, question: str) -> str | None:
        """The table row a question names by its number, as answers cite rows (附件1第2行), or
        in a document with one table by 表…第N行."""
        from .ingest.cleaning import cn_to_int

        m = _ROW.search(question)
        if m is None:
            return None
        number = cn_to_int(m.group(2))
        rows = [r for r in self.records if isinstance(r, TableRow) and r.number == number]
        if m.group(1):
            rows = [r for r in rows if r.annex == cn_to_int(m.group(1))]
        elif len({r.annex for r in self.records if isinstance(r, TableRow)}) != 1:
            return None
        return rows[0].id if len(rows) == 1 else None

    def _states(self, cid: str, kind: str) -> bool:
        text = self.by_id[cid].text
        if kind in _FIELDS:
            return bool(_FIELDS[kind].search(text))
        if kind == "金额" and _MULTIPLE.search(text):
            return True  # "不超过3个月的城乡最低生活保障标准": an amount as a multiple of one
        return detail.holds(_DATE.sub("", text), kind)

    def rank(self, result, hits) -> list:
        """This document's sources for the question, best first; [] when it has none."""
        if not self.chunk_ids:
            return []
        index = self.index
        words = index.tokenizer.tokens(result.query)
        if result.followup:  # the turn's own words count twice against the earlier turn's
            words += index.tokenizer.tokens(index.expand(result.focus)[0])
        clues = self._clues(words)
        cos = self._cosines(result.vector)
        floor = min(cos.values(), default=0.0)
        closest = max(cos.values(), default=0.0)
        lex: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}  # record -> (words and similarity, its chunk)
        for j, cid in enumerate(self.chunk_ids):
            rec = self.owner[j]
            lex[rec] = max(lex.get(rec, 0.0), float(clues[j]))
            score = float(clues[j]) + DENSE_WEIGHT * (cos.get(cid, floor) - closest if cos else 0)
            if score > best.get(rec, (-np.inf, ""))[0]:
                best[rec] = (score, cid)
        # the start: the sources found, in the ranking's order (by evidence instead: one fewer
        # of the development questions right)
        found = [h.id for h in hits if h.id in best]
        order = found + sorted((c for c in best if c not in found), key=lambda c: -best[c][0])
        asked_words = set(words)

        def unnamed(cid: str) -> bool:
            rows = self.row_words.get(cid)
            return rows is not None and not (rows & asked_words)

        row = self._row_named(result.focus)
        asked = detail.asked(result.focus)
        if row is not None:
            order = [row] + [c for c in order if c != row]
        else:
            lead = max(order, key=lambda c: (lex[c], -order.index(c)))
            if lex[lead] > 0 and lex[lead] >= lex[order[0]] + MARGIN * max(lex.values()):
                order = [lead] + [c for c in order if c != lead]
            if not asked:  # who pays, which unit: as a figure (the stating passage first)
                kinds = getattr(result.intent, "kinds", set())
                asked = next((k for k in _FIELDS if k in kinds), None)
                if asked is None and _HOW_MUCH.search(result.focus):
                    asked = "金额"  # "一次给多少": how much, without a unit
            if asked and not self._states(order[0], asked):
                stating = [c for c in order if self._states(c, asked)]
                if stating:
                    pick = max(stating, key=lambda c: (lex[c], -order.index(c)))
                    rest = [c for c in stating if c != pick]
                    order = [pick, *rest] + [c for c in order if c not in stating]
            # rows the question does not name after the paragraphs, whatever put them first
            order = [c for c in order if not unnamed(c)] + [c for c in order if unnamed(c)]
        have = {h.id: h for h in hits}
        out = []
        # as many as the ranking found of this document (two at least): the other documents'
        # sources keep their places after them
        for cid in order[: max(len(found), 2)]:
            chunk = best[cid][1]
            h = have.get(cid)
            if cid == row:
                h = h or index.hit_for(cid, "lookup")
                h.via, h.evidence = "lookup", max(h.evidence, 0.9)  # as retrieval's lookups
            elif h is None:
                h = index.hit_for(cid, "hybrid")
                pos = index.chunk_pos[chunk]
                h.lexical = index.coverage(words, pos)
                h.dense = cos.get(chunk, floor)
                # the retriever's measure (retrieval.PlanRetriever._evidence)
                stretched = min(1.0, max(0.0, (h.dense - 0.75) / 0.15))
                h.evidence = 0.5 * h.lexical + 0.5 * stretched if cos else h.lexical
                h.chunk_ids = [chunk]
            out.append(h)
        return out

    def support(self, result, cid: str) -> float:
        """The share of the question's own words (not the document's subject, not one
        character) that the passage holds, each weighed by how rare it is in this document; a
        word the document never uses weighs as one in none of its passages; 0 without such words (nothing of the
        question's own to hold)."""
        index = self.index
        words = index.content_tokens(index.tokenizer.tokens(index.expand(result.focus)[0]))
        # in one order, rounded: a set's order follows the process's hash seed, and the sum's
        # last bit with it ("不批准的话会说明原因吗" held exactly half: 0.5 or 0.4999999999999999)
        words = sorted({t for t in words if len(t) > 1 and t not in self.subject})
        if not words:
            return 0.0
        n = len(self.tokens)
        absent = float(np.log(1 + (n + 0.5) / 0.5))  # BM25's weight of a word no passage has
        have: set[str] = set()
        for j, c in enumerate(self.owner):
            if c == cid:
                have |= set(self.tokens[j])
        total = sum(self.idf.get(t, absent) for t in words)
        return round(sum(self.idf.get(t, absent) for t in words if t in have) / total, 9)
