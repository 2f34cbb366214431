"""One langchain BaseRetriever: lookup, hybrid BM25 + vector with fusion, aliases, follow-ups."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field

from .answer.asks import NAMING_IDF
from .answer.features import ask_kind
from .answer.numbers import arabic_ids
from .answer.understand import CJK, Turn, Understanding
from .chunks import build_chunks
from .documents import CN_NUM, DOMAINS, AnyRecord, ServiceItem, Task
from .intents import Intent, detect
from .neighbours import Votes
from .rerank import Signals
from .settings import Settings
from .store import nearest
from .text import Homophones, Tokenizer, expand_aliases, fold, vocabulary_from_records

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


class Hit(BaseModel):
    """One cited source, ranked."""

    id: str
    title: str
    readable: str
    kind: str
    score: float = Field(description="fused rank score (higher first)")
    evidence: float = Field(0.0, description="absolute support for the query, 0..1")
    via: str = Field(description="lookup | followup | hybrid | bm25 | dense")
    lexical: float = Field(0.0, description="best chunk's IDF-weighted word coverage, 0..1")
    dense: float = Field(0.0, description="best chunk's cosine similarity to the query")
    chunk_ids: list[str] = Field(default_factory=list, description="best matching chunks first")


@dataclass
class SearchResult:
    hits: list[Hit]
    query: str  # what was searched after rewrite and alias expansion
    focus: str  # the user's own words of this turn
    intent: Intent = field(default_factory=Intent)
    aliases: list[str] = field(default_factory=list)
    degraded: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    vector: list[float] | None = None  # the query's embedding, when vectors are on
    votes: Votes = field(default_factory=Votes.none)  # what the nearest training questions say
    turn: Turn | None = None  # the turn as understood against its conversation

    @property
    def followup(self) -> bool:
        """The turn leans on the conversation (its own state, kept once, on the turn)."""
        return self.turn is not None and self.turn.followup


# a list's ID and the numbers that follow it in an enumeration ("清单61和62", "清单第3项、第4项");
# a number followed by a unit is a figure, not an ID ("清单5和12岁的孩子")
_NUMBERED = re.compile(
    r"(清单|分工|专栏)[-－—]?第?(\d{1,3})项?"
    r"((?:(?:以及|[和与及、])第?\d{1,3}(?:项|(?![\d岁年元月日个人次万%号户套所名家天])))*)"
)


# ---------------------------------------------------------------- the in-memory side


class PlanIndex:
    """Records, chunks, BM25 and the name tables: everything retrieval needs besides vectors."""

    def __init__(self, records: list[AnyRecord], aliases: dict[str, tuple[str, ...]]):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.records = {r.id: r for r in records}
        self.chunks = build_chunks(records)
        self.chunk_pos = {d.id: i for i, d in enumerate(self.chunks)}
        self._chunks_by_cid: dict[str, list[int]] = {}
        for i, d in enumerate(self.chunks):
            self._chunks_by_cid.setdefault(d.metadata["citation_id"], []).append(i)
        self.aliases = aliases
        # alias keys are words too, so an alias matches whole words only (领养 is not in 领养老金)
        vocab = vocabulary_from_records(records) + [t for ts in aliases.values() for t in ts]
        self.tokenizer = Tokenizer(vocab + list(aliases))
        corpus_tokens = [self.tokenizer.tokens(d.page_content) for d in self.chunks]
        self.bm25 = bm25s.BM25()
        self.bm25.index(corpus_tokens, show_progress=False)
        self.vocab = set(self.bm25.vocab_dict)
        self.homophones = Homophones(self.vocab | set(aliases), self.tokenizer)
        self.idf = self._idf(corpus_tokens)
        self.chunk_tokens = [set(t) for t in corpus_tokens]
        self.item_names = sorted(
            ((fold(r.name), r.id) for r in records if isinstance(r, ServiceItem)),
            key=lambda x: -len(x[0]),
        )
        self.item_by_name = dict(self.item_names)
        # word -> items whose 服务对象 uses it (老年人, 孕产妇, 残疾人): the groups people belong to
        holders: dict[str, list[str]] = {}
        for r in records:
            if isinstance(r, ServiceItem):
                for t in dict.fromkeys(self.tokenizer.tokens(r.target)):
                    holders.setdefault(t, []).append(r.id)
        self.target_words = {t: tuple(ids) for t, ids in holders.items()}
        self.box_titles = {r.number: r.id for r in records if r.kind == "box"}
        # what some kinds of question belong to, found by its structure, not by its ID: the front
        # matter (the first section: 文号, date, issuer) and the box that lists the list's domains
        self.front_matter = next((r.id for r in records if r.kind == "section"), None)
        self.directory = next(
            (r.id for r in records if r.kind == "box" and getattr(r, "directory", None)), None
        )
        self.section_titles = sorted(
            # domain names are section titles too; they are handled as domains, not lookups
            (
                (fold(r.title), r.id)
                for r in records
                if r.kind == "section" and len(r.title) >= 4 and r.title not in DOMAINS
            ),
            key=lambda x: -len(x[0]),
        )
        units: list[str] = []
        for r in records:
            if isinstance(r, ServiceItem):
                units += r.lead_units
            elif isinstance(r, Task):
                units += [
                    u for u in re.split(r"[、，]", r.units.split("牵头")[0]) if u.startswith("市")
                ]
        self.units = sorted(set(units), key=lambda u: (-len(u), u))  # not in hash order

    @lru_cache(maxsize=1024)  # noqa: B019 - one index per process; records never change
    def record_profile(self, cid: str) -> tuple[frozenset[str], tuple[tuple[str, frozenset], ...]]:
        """A record's words, and its clauses each with its words: tokenized once."""
        text = self.records[cid].text
        clauses = tuple(
            (c, frozenset(self.tokenizer.tokens(c)))
            for c in re.split(r"(?<=[。；！？\n])", text)
            if c.strip()
        )
        return frozenset(self.tokenizer.tokens(text)), clauses

    def expand(self, text: str) -> tuple[str, list[str]]:
        """The text with the plan's terms it means appended: misspelt terms (底保 → 低保), then
        the official terms of citizen words (低保 → 最低生活保障). Returns (text, terms added)."""
        return self._expand_memo(text)

    @lru_cache(maxsize=4096)  # noqa: B019 - one index per process
    def _expand_memo(self, text: str) -> tuple[str, list[str]]:
        fixed = self.homophones.corrections(text)
        base = f"{text} {' '.join(fixed)}" if fixed else text
        expanded, added = expand_aliases(base, self.aliases, self.tokenizer.tokens(base))
        return expanded, fixed + added

    def hit_for(self, cid: str, via: str) -> Hit:
        """A record as a source that no ranking returned (a lookup, a listed item), with its
        first chunk to show."""
        rec = self.records[cid]
        first = next((d.id for d in self.chunks_of(cid)), None)
        return Hit(
            id=cid,
            title=rec.title,
            readable=rec.readable,
            kind=rec.kind,
            score=0.0,
            via=via,
            chunk_ids=[first] if first else [],
        )

    def chunks_of(self, cid: str) -> list[Document]:
        return [self.chunks[i] for i in self._chunks_by_cid.get(cid, [])]

    @staticmethod
    def _unit_names(unit: str) -> set[str]:
        """How 附件2 may write a unit: without 市 after the first one ("市财政局、发改委牵头"),
        and 发展改革委 shortened to 发改委."""
        short = unit.removeprefix("市")
        return {short, short.replace("发展改革委", "发改委"), short.replace("发改委", "发展改革委")}

    def task_lead(self, task: Task, unit: str) -> bool:
        """Whether the unit is among those named before 牵头."""
        lead = task.units.split("牵头")[0]
        return any(n in lead for n in self._unit_names(unit))

    def tasks_led_by(self, unit: str) -> list[str]:
        """附件2 tasks a unit leads, then those it shares."""
        names = self._unit_names(unit)
        tasks = [
            r
            for r in self.records.values()
            if isinstance(r, Task) and any(n in r.units for n in names)
        ]
        tasks.sort(key=lambda r: (not self.task_lead(r, unit), r.number))
        return [r.id for r in tasks]

    def items_led_by(self, unit: str) -> list[str]:
        """Items a unit leads: those it leads first, then those it leads with others."""
        items = [
            r for r in self.records.values() if isinstance(r, ServiceItem) and unit in r.lead_units
        ]
        items.sort(key=lambda r: (r.lead_units.index(unit) > 0, r.number))
        return [r.id for r in items]

    @staticmethod
    def _idf(corpus_tokens: list[list[str]]) -> dict[str, float]:
        n = len(corpus_tokens)
        df: dict[str, int] = {}
        for toks in corpus_tokens:
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        return {t: float(np.log(1 + (n - d + 0.5) / (d + 0.5))) for t, d in df.items()}

    # -- lookup

    def lookup(self, query: str, names: bool = True) -> list[str]:
        """Citation IDs the query names outright: an ID, an item number, an exact item name
        (with ``names=False``: only IDs, numbers and a query that is nothing but a name)."""
        q = arabic_ids(fold(query).replace(" ", ""))  # 清单第五十六项 → 清单第56项
        found: list[str] = []

        def add(cid: str) -> None:
            if cid in self.records and cid not in found:
                found.append(cid)

        for cid in self._numbered_in(q):  # 清单61和62: the list's later numbers too
            add(cid)
        for m in re.finditer(r"(?:重点)?(?:任务)?分工(?:方案)?第(\d{1,2})项", q):
            add(f"分工-{m.group(1)}")
        for m in re.finditer(rf"章节-?([{CN_NUM}]+(?:[（(][{CN_NUM}]+[）)])?|序言)", q):
            add("章节-" + m.group(1).replace("(", "（").replace(")", "）"))
        if not found:
            for m in re.finditer(r"(?<![分工专栏\d])第(\d{1,3})项", q):
                add(f"清单-{m.group(1)}")
        # a query that is only a name ("低保", "五保户", "孤儿养育保障") names that record
        bare = re.sub(r"[^\w]", "", q)
        for term in (bare, *self.aliases.get(bare, ())):
            cid = self.item_by_name.get(fold(term))
            if cid:
                add(cid)
        if not names:
            return found
        taken: list[tuple[int, int]] = []
        for name, cid in self.item_names:
            if len(name) < 4:
                continue
            start = q.find(name)
            if start < 0:
                continue
            span = (start, start + len(name))
            if any(a <= span[0] < b or a < span[1] <= b for a, b in taken):
                continue  # a longer name already covers this place
            taken.append(span)
            add(cid)
        for title, cid in self.section_titles:
            if title in q and not any(title in name for name, _ in self.item_names):
                add(cid)
        return found

    def names_record(self, text: str) -> bool:
        """The text is only a record's name or a citizen's word for it ("低保", "五保户")."""
        bare = re.sub(r"[^\w]", "", fold(text))
        return any(self.item_by_name.get(fold(t)) for t in (bare, *self.aliases.get(bare, ())))

    def numbered(self, query: str) -> list[str]:
        """Records the query names by list and number, a list's later numbers included
        ("清单61 清单62", "清单第3项和第4项", "清单61和62"): an ID written out, not a name."""
        return self._numbered_in(arabic_ids(fold(query).replace(" ", "、")))

    def _numbered_in(self, q: str) -> list[str]:
        found: list[str] = []
        for m in _NUMBERED.finditer(q):
            for n in [m.group(2), *re.findall(r"\d{1,3}", m.group(3))]:
                cid = f"{m.group(1)}-{n}"
                if cid in self.records and cid not in found:
                    found.append(cid)
        return found

    def lookup_cached(self, text: str, names: bool = True) -> list[str]:
        """lookup() memoized: understanding a turn and ranking it ask for the same text."""
        return list(self._lookup_memo(text, names))

    @lru_cache(maxsize=4096)  # noqa: B019 - one index per process
    def _lookup_memo(self, text: str, names: bool = True) -> tuple[str, ...]:
        return tuple(self.lookup(text, names))

    def quoted(self, text: str) -> list[str]:
        """The record an earlier answer given as plain text repeats: the best BM25 match of its
        words, when that record's passage holds most of them (a chat client may send back our
        answer without its citations, or its own summary of it)."""
        return list(self._quoted_memo(text[:1000]))

    @lru_cache(maxsize=1024)  # noqa: B019 - one index per process; bounded
    def _quoted_memo(self, text: str) -> tuple[str, ...]:
        words = {t for t in self.content_tokens(self.tokenizer.tokens(text)) if len(t) >= 2}
        if len(words) < 4:  # "65岁及以上老年人。" is in many records: the question decides
            return ()
        words = list(words)
        for i, _ in self.bm25_rank(words, 1):
            if self.coverage(words, i) >= 0.6:
                return (self.chunks[i].metadata["citation_id"],)
        return ()

    def content_tokens(self, tokens: list[str]) -> list[str]:
        """Tokens that name a subject, not an attribute or a question word."""
        from .intents import ATTRIBUTE_WORDS, INTENT_PATTERNS

        return [
            t
            for t in tokens
            if t not in ATTRIBUTE_WORDS
            and not any(p.fullmatch(t) for p in INTENT_PATTERNS.values())
        ]

    # -- rankers

    def bm25_rank(self, tokens: list[str], n: int) -> list[tuple[int, float]]:
        tokens = [t for t in tokens if t in self.vocab]
        if not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        top = np.argsort(-scores)[:n]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def coverage(self, tokens: list[str], chunk_index: int) -> float:
        """IDF-weighted share of the query's words found in one chunk (0..1)."""
        weights = {t: self.idf.get(t, 3.0) for t in set(tokens)}
        total = sum(weights.values())
        if not total:
            return 0.0
        have = self.chunk_tokens[chunk_index]
        return sum(w for t, w in weights.items() if t in have) / total


# ---------------------------------------------------------------- the retriever


class PlanRetriever(BaseRetriever):
    """Ranked sources for a question (and its conversation), as langchain Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    vectorstore: Any | None = None
    settings: Settings
    k: int = 5
    history: list[dict] = Field(default_factory=list)
    last_error: str | None = None
    reranker: Any | None = None
    attributes: Any | None = None  # the asked-attribute model
    capture: list | None = None  # set by training to collect candidates
    neighbours: Any | None = None  # the training questions' vectors (neighbours.Neighbours)
    exclude_file: str | None = None  # training: the asking writer's file is not in the memory

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = self.search(query, self.history, k=self.k)
        docs = []
        for h in result.hits:
            best = self.index.chunks[self.index.chunk_pos[h.chunk_ids[0]]] if h.chunk_ids else None
            docs.append(
                Document(
                    id=h.id,
                    page_content=best.page_content if best else self.index.records[h.id].text,
                    metadata={
                        "citation_id": h.id,
                        "score": h.score,
                        "via": h.via,
                        "title": h.title,
                    },
                )
            )
        return docs

    # -- public

    def understand(self, question: str, history: list[dict] | None = None) -> Turn:
        """The turn resolved once against its conversation (answer/understand.py)."""
        return Understanding(self.index, self._stands_alone).turn(question, history)

    def search(self, question: str, history: list[dict] | None = None, k: int | None = None):
        k = k or self.k
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        turn = self.understand(question, history)
        question, query, followup, prior = turn.text, turn.query, turn.followup, turn.prior
        expanded, added = self.index.expand(query)
        focus_expanded, _ = self.index.expand(question)
        tokens = self.index.tokenizer.tokens(expanded)
        # the user's own words of this turn count twice against words from earlier turns
        focus_tokens = self.index.tokenizer.tokens(focus_expanded)
        bm25_tokens = tokens + focus_tokens if followup else tokens
        n = self.settings.retrieval_candidates
        intent = detect(question, self.index.units)
        if self.attributes is not None:
            intent.asked, intent.asked_p = self.attributes.predict(question)
        if not intent.units and focus_expanded != question:
            # a unit named in other words: 卫健委 → 市卫生计生委, 发展改革委 → 市发改委
            intent.units = detect(focus_expanded, self.index.units).units
        ranked_bm25 = self.index.bm25_rank(bm25_tokens, n)
        signals = Signals(bm25=dict(ranked_bm25), question_tokens=focus_tokens)
        extra = []
        if followup and self.index.content_tokens(focus_tokens):
            # the turn names a new subject ("普通高中的呢？"): its own words lead, twice over
            focus_rank = self.index.bm25_rank(focus_tokens, n)
            extra = [focus_rank, focus_rank]
        else:
            ask = turn.ask
            if ask != question:
                # a story with its ask at the end: the ask's words weigh more than side details
                # (低保户 … 火化要不要钱 asks about 火化, not about 低保)
                ask_tokens = self.index.tokenizer.tokens(self.index.expand(ask)[0])
                extra = [self.index.bm25_rank(ask_tokens, n)]
                signals.ask = dict(extra[0])
        timings["bm25_ms"] = (time.perf_counter() - t0) * 1000

        t1 = time.perf_counter()
        ranked_dense, degraded, vector = self._dense(expanded, n)
        own_votes = None
        if self.neighbours is not None and vector is not None and not followup:
            signals.votes = self.neighbours.votes(
                vector, self.exclude_file, kind=ask_kind(question)
            )
        elif self.neighbours is not None and vector is not None:
            # a follow-up's own words say whether it is about the plan at all ("那帮俺写个起诉状
            # 吧"), for the answerability model; the ranking keeps no votes for them (they would
            # vote for the records such words find alone, not the conversation's)
            own = self._own_vector(question)
            if own is not None:
                own_votes = self.neighbours.votes(own, self.exclude_file, kind=ask_kind(question))
        timings["dense_ms"] = (time.perf_counter() - t1) * 1000

        fused = self._fuse(ranked_bm25, ranked_dense, *extra)
        hits = self._aggregate(fused, tokens, ranked_dense)
        hits = self._prefer(hits, intent)
        if self.capture is not None:  # training: the candidates as fused, before re-ranking
            self.capture.append((question, list(hits), intent, signals))
        if self.reranker is not None:
            hits = self.reranker.rerank(self.index, question, hits, intent, signals)
        # an ID, a number or a bare name leads. A name or a part's title inside a longer question
        # is one signal among the re-ranker's, which learned when the section beside the item
        # holds what is asked (失业保险金标准与什么挂钩: 章节-三（三）, not 清单-24's card);
        # without the vector signals it learned with, names lead as before
        lookups = self._lookup(question, names=self.reranker is None or vector is None)
        keep: list[str] = []
        if followup:
            # "那特困人员呢？" names a new subject: what earlier turns named or cited leads only
            # if it speaks of that subject; "这个谁负责" has none, so the latest source leads
            subject = [  # words of the plan's own that name something (not "发钱", "房子")
                t
                for t in self.index.content_tokens(focus_tokens)
                if len(t) >= 2 and t in self.index.vocab
            ]
            earlier = [c for c in turn.earlier if c not in lookups]
            lookups += [c for c in earlier if self._speaks_of(c, subject)]
            keep = [
                p
                for p in prior
                if p not in lookups
                and self._speaks_of(p, subject)
                and not self._named_better(p, subject, hits)
            ]
            if prior and subject and not keep and not lookups and prior[0] in turn.cited:
                # a cited source that does not speak of the new subject steps aside; a source only
                # guessed from a plain-text turn is too weak a reason to push anything down
                hits = self._prefer_kind(hits, self.index.records[prior[0]].kind, set(prior))
        lookups = lookups or self._intent_lookup(question, intent)
        hits = self._promote(hits, lookups, "lookup")
        if keep:
            hits = self._promote(hits, keep, "followup", after=len(lookups))
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        return SearchResult(
            hits=hits[:k],
            query=expanded,
            focus=question,
            intent=intent,
            aliases=added,
            degraded=degraded,
            timings=timings,
            vector=vector,
            votes=signals.votes if own_votes is None else own_votes,
            turn=turn,
        )

    def _own_vector(self, question: str):
        """The turn's own words embedded (cached by the embedder: a turn asked whether it stands
        alone and then voted on is embedded once); None when the vector model fails."""
        if self.vectorstore is None:
            return None
        try:
            return self.vectorstore.embeddings.embed_query(question)
        except Exception:
            return None

    def _stands_alone(self, question: str) -> bool:
        """A short turn without a word pointing back that is a question of its own: no Chinese
        at all ("asdfgh"), or one whose nearest training questions are mostly about nothing in
        the plan ("明天下雨不", "股票咋样") — not "谁出钱？" or "多少钱", which ask about what was
        just said."""
        if not CJK.search(question):
            return True
        if self.neighbours is None or self.vectorstore is None:
            return False
        vector = self._own_vector(question)
        return (
            vector is not None and self.neighbours.votes(vector, self.exclude_file).unrelated >= 0.5
        )

    def _prefer_kind(self, hits: list[Hit], kind: str, answered: set[str]) -> list[Hit]:
        """After an item, "新生儿呢？" asks for the matching item, not a passage, and not the
        item just answered, which does not speak of 新生儿."""
        for h in hits:
            if h.kind == kind:
                h.score *= self.settings.item_boost
            if h.id in answered:
                h.score *= 0.5
        return sorted(hits, key=lambda h: -h.score)

    def _named_better(self, cid: str, words: list[str], hits: list[Hit]) -> bool:
        """Whether another record of the same kind among the first ranked has a title that holds
        more of these words ("那农村的那个奖励扶助呢" after the 城镇 one names the 农村 item)."""
        rec = self.index.records.get(cid)
        if rec is None or not words:
            return False

        def named(title: str) -> float:
            return sum(self.index.idf.get(w, 1.0) for w in set(words) if w in title)

        own = named(rec.title)
        return any(
            h.id != cid
            and h.kind == rec.kind
            and named(h.title) > own
            and named(h.title) >= NAMING_IDF
            for h in hits[:5]
        )

    def _speaks_of(self, cid: str, words: list[str]) -> bool:
        """Whether a record's text holds most of these words (none given: yes)."""
        if not words:
            return True
        return any(
            self.index.coverage(words, self.index.chunk_pos[d.id]) >= 0.5
            for d in self.index.chunks_of(cid)
        )

    def _lookup(self, text: str, names: bool = True) -> list[str]:
        return self.index.lookup_cached(text, names)

    def _dense(self, text: str, n: int) -> tuple[list[tuple[int, float]], bool, list | None]:
        if self.vectorstore is None:
            return [], True, None
        try:
            emb = self.vectorstore.embeddings.embed_query(text)
            pairs = nearest(self.vectorstore, emb, n)
            self.last_error = None
        except Exception as e:
            if self.last_error is None:
                logger.error("vector search unavailable, answering from BM25 only: %s", e)
            self.last_error = str(e)
            return [], True, None
        out = []
        for chunk_id, distance in pairs:
            pos = self.index.chunk_pos.get(chunk_id)
            if pos is not None:
                out.append((pos, 1.0 - float(distance)))  # cosine distance -> similarity
        return out, False, emb

    def _fuse(self, bm25, dense, *extra) -> dict[int, float]:
        fused: dict[int, float] = {}
        if self.settings.fusion == "rrf" or not (bm25 and dense):
            c = self.settings.rrf_k
            for ranked in (bm25, dense, *extra):
                for rank, (i, _) in enumerate(ranked):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (c + rank + 1)
            return fused
        w = self.settings.dense_weight
        lexical = [(bm25, (1 - w) / (1 + len(extra)))] + [
            (r, (1 - w) / (1 + len(extra))) for r in extra
        ]
        for ranked, weight in [*lexical, (dense, w)]:
            if not ranked:
                continue
            scores = np.array([s for _, s in ranked])
            lo, hi = scores.min(), scores.max()
            for i, s in ranked:
                norm = (s - lo) / (hi - lo) if hi > lo else 1.0
                fused[i] = fused.get(i, 0.0) + weight * norm
        return fused

    def _aggregate(self, fused: dict[int, float], tokens: list[str], dense) -> list[Hit]:
        dense_sim = dict(dense)
        by_cid: dict[str, Hit] = {}
        for i, score in sorted(fused.items(), key=lambda x: -x[1]):
            chunk = self.index.chunks[i]
            cid = chunk.metadata["citation_id"]
            ev = self._evidence(i, tokens, dense_sim.get(i))
            lex = self.index.coverage(tokens, i)
            sim = dense_sim.get(i, 0.0)
            hit = by_cid.get(cid)
            if hit is None:
                rec = self.index.records[cid]
                by_cid[cid] = Hit(
                    id=cid,
                    title=rec.title,
                    readable=rec.readable,
                    kind=rec.kind,
                    score=score,
                    evidence=ev,
                    via="hybrid" if dense else "bm25",
                    chunk_ids=[chunk.id],
                    lexical=lex,
                    dense=sim,
                )
            else:
                hit.chunk_ids.append(chunk.id)
                hit.evidence = max(hit.evidence, ev)
                hit.lexical = max(hit.lexical, lex)
                hit.dense = max(hit.dense, sim)
        return sorted(by_cid.values(), key=lambda h: -h.score)

    def _prefer(self, hits: list[Hit], intent: Intent) -> list[Hit]:
        """A question about an item's field (amount, who, who pays, which unit) is answered by
        the item itself rather than by a section that mentions the same words."""
        if "task" in intent.kinds:
            preferred = {"task"}  # 重点任务分工: "which unit leads this task"
        elif "department" in intent.kinds:
            preferred = {"item", "task"}  # both name lead units
        elif (intent.field_question or "services" in intent.kinds) and (
            "indicator" not in intent.kinds
        ):
            preferred = {"item"}
        else:
            return hits
        boost = self.settings.item_boost
        for h in hits:
            if h.kind in preferred:
                h.score *= boost
        return sorted(hits, key=lambda h: -h.score)

    def _intent_lookup(self, question: str, intent: Intent) -> list[str]:
        """Sources a kind of question always belongs to, whatever its words."""
        if "task" in intent.kinds and intent.units:
            return self.index.tasks_led_by(intent.units[0])[: self.settings.max_answer_items + 2]
        front, directory = self.index.front_matter, self.index.directory
        if "document" in intent.kinds and not intent.domains and "附件" not in question and front:
            return [front]  # 文号, date, issuer: the notice; 附件 questions are ranked
        if "list" in intent.kinds and intent.units:
            return self.index.items_led_by(intent.units[0])[: self.settings.max_answer_items + 2]
        if directory is None:
            return []
        if "list" in intent.kinds and intent.domains and re.search(r"几|多少|哪些|包括", question):
            return [directory]
        if re.search(r"(几|多少|哪些|哪\d*个)个?领域|多少个?服务项目|多少项服务", question):
            return [directory]
        return []

    def _evidence(self, i: int, tokens: list[str], sim: float | None) -> float:
        cov = self.index.coverage(tokens, i)
        if sim is None:
            return cov
        # e5 cosine similarities live in ~[0.7, 0.92] for this corpus: stretch to 0..1
        dense = min(1.0, max(0.0, (sim - 0.75) / 0.15))
        return 0.5 * cov + 0.5 * dense

    def _promote(self, hits: list[Hit], ids: list[str], via: str, after: int = 0) -> list[Hit]:
        if not ids:
            return hits
        by_id = {h.id: h for h in hits}
        front: list[Hit] = []
        for cid in ids:
            h = by_id.pop(cid, None) or self.index.hit_for(cid, via)
            h.via = via
            h.evidence = max(h.evidence, 0.9 if via == "lookup" else h.evidence)
            front.append(h)
        rest = [h for h in hits if h.id in by_id]
        top = max((h.score for h in hits), default=1.0)
        for j, h in enumerate(front):
            h.score = top + len(front) - j
        return rest[:after] + front + rest[after:]
