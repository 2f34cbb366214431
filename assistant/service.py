"""The one service: search() and answer(), shared by the page, the CLI, the API and eval."""

from __future__ import annotations

import gc
import logging
import threading
import time

from . import guard, prompts
from .across import Across, period_notice
from .answer.features import names_id
from .answering import Answer, Composer, Source
from .documents import load_plans
from .library import DocumentInfo, Library
from .retrieval import Hit, PlanIndex, PlanRetriever, SearchResult
from .settings import Settings, get_settings
from .text import InputError, has_content, load_aliases, pieces, sanitize

logger = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings, with_vectors: bool = True, embeddings=None):
        t0 = time.perf_counter()
        quiet_libraries()
        self.settings = settings
        self.library = Library(settings)
        self._reload_lock = threading.Lock()
        self._library_stamp = self.library.stamp()
        self._library_version = self.library.version
        self.records = self.library.records()
        self.by_id = {r.id: r for r in self.records}
        self.index = PlanIndex(self.records, load_aliases(settings.corpus_dir))
        self.across = Across.of(self.library.plans())
        self.embeddings = None
        self.manifest: dict | None = None
        from .answer.attribute import AttributeModel
        from .rerank import Reranker

        self.retriever = PlanRetriever(
            index=self.index,
            vectorstore=None,
            settings=settings,
            k=settings.retrieval_k,
            reranker=Reranker.load(),
            attributes=AttributeModel.load(),
        )
        self.composer = Composer(
            self.index,
            load_plans(settings.corpus_dir)[0].meta,
            settings.min_evidence,
            settings.max_answer_items,
        )
        from .answer.decide import Decider

        self.decider = Decider.load()
        self._feedback = None
        self.llm_chain = None
        if settings.llm_enabled:
            from .llm import build_chain, make_llm

            self.llm_chain = build_chain(make_llm(settings))
        if with_vectors:
            self.attach_vectors(embeddings)
        logger.info("service ready in %.1f s", time.perf_counter() - t0)

    def attach_vectors(self, embeddings=None, neighbours=None) -> None:
        """The vector side: the query encoder, the checked index, the store. Apart from the
        rest so that `policyqa serve --workers N` builds one template and forks it: each worker
        opens its own (an open Chroma client runs threads, which a fork does not carry), with
        the template's `neighbours` (load_neighbours, loaded once before the fork)."""
        from .embeddings import make_embeddings
        from .store import ensure_index, open_vectorstore

        self.embeddings = embeddings or make_embeddings(self.settings)
        self.library = Library(self.settings, self.embeddings)
        self.manifest = ensure_index(
            self.settings, self.embeddings, progress=False, plans=self.library.plans()
        )
        self.retriever.vectorstore = open_vectorstore(self.settings, self.embeddings)
        self.retriever.neighbours = neighbours if neighbours is not None else self.load_neighbours()

    # -- the library: documents added or removed at run time

    def add_document(self, path, **kw) -> DocumentInfo:
        """Add a document (Library.add) and answer from the new set at once."""
        info = self.library.add(path, **kw)
        self.refresh(force=True)
        return info

    def remove_document(self, doc_id: str) -> DocumentInfo:
        info = self.library.remove(doc_id)
        self.refresh(force=True)
        return info

    def refresh(self, force: bool = False) -> bool:
        """Reload when the set of documents changed (here or in another process): a stat of
        the library's list before each answer; the records, BM25 and the store re-open."""
        stamp = self.library.stamp()
        if not force and stamp == self._library_stamp:
            return False
        with self._reload_lock:  # two answers at once (the page's threads) reload once
            return self._reload(stamp, force)

    def _reload(self, stamp: tuple, force: bool) -> bool:
        if not force and stamp == self._library_stamp:
            return False
        self._library_stamp = stamp
        version = self.library.version
        if not force and version == self._library_version:
            return False
        self._library_version = version
        t0 = time.perf_counter()
        try:
            records = self.library.records()
        except Exception:  # answer from what was there rather than fail every question
            logger.exception("library changed but could not be read; keeping the previous set")
            return False
        self.records = records
        self.by_id = {r.id: r for r in self.records}
        # the index is millions of objects that live until the next change: built with the
        # cyclic collector off, as at start-up (startup.building_objects), ~15 % sooner
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.index = PlanIndex(self.records, load_aliases(self.settings.corpus_dir))
        finally:
            if collecting:
                gc.enable()
        self.retriever.index = self.index
        self.composer.index = self.index
        self.across = Across.of(self.library.plans())
        if self.embeddings is not None:
            # a Chroma client keeps its own view of a persistent store: another process's
            # additions are seen only by a client opened after them
            from .store import open_vectorstore

            if not self.settings.chroma_url:
                from chromadb.api.client import SharedSystemClient

                SharedSystemClient.clear_system_cache()
            self.retriever.vectorstore = open_vectorstore(self.settings, self.embeddings)
        logger.info(
            "library changed: %d documents, %d records, reloaded in %.2f s",
            len(self.library.plans()),
            len(self.records),
            time.perf_counter() - t0,
        )
        return True

    def load_neighbours(self):
        """The training questions' vectors for neighbour votes (cached; built at index time)."""
        from .neighbours import load_or_build

        return load_or_build(
            self.settings.train_dir,
            self.settings.corpus_dir / "aliases.toml",
            self.settings.model_cache_dir,
            self.embeddings.model_id,
            lambda q: self.index.expand(q)[0],
            self.embeddings.embed_query,
        )

    # -- retrieval

    def search_full(
        self,
        query: object,
        history: list[dict] | None = None,
        k: int | None = None,
        documents: list[str] | None = None,
    ) -> SearchResult:
        self.refresh()
        clean = sanitize(query, self.settings.max_question_chars)
        k = k or self.settings.retrieval_k
        if not documents:
            return self.retriever.search(clean.text, history, k=k)
        wanted = set(documents)
        result = self.retriever.search(clean.text, history, k=max(k * 4, 20))
        result.hits = [h for h in result.hits if self._document_of(h.id) in wanted][:k]
        return result

    def search(
        self,
        query: object,
        k: int = 5,
        history: list[dict] | None = None,
        documents: list[str] | None = None,
    ) -> list[Hit]:
        """Ranked sources; ``documents``: only from these document ids (None: all)."""
        return self.search_full(query, history, k, documents).hits

    def _document_of(self, cid: str) -> str:
        rec = self.by_id.get(cid)
        return rec.plan if rec is not None else cid.partition(":")[0]

    # -- answers

    def answer(self, question: object, history: list[dict] | None = None) -> Answer:
        """The one answer function: the page, the CLI, the API and eval all call this."""
        t0 = time.perf_counter()
        self.refresh()
        try:
            clean = sanitize(question, self.settings.max_question_chars)
        except InputError as e:
            return Answer(question="", text=str(e), answered=False, reason="empty")
        text = guard.strip_markup(clean.text)
        notices = list(clean.notices)
        if not has_content(text):
            return Answer(question=text, text=prompts.NO_TEXT, answered=False, reason="no_text")
        verdict = guard.check(text)
        if verdict:
            return self._finish(
                Answer(question=text, text=verdict.reply, answered=False, reason=verdict.kind), t0
            )
        hist = guard.safe_history(history)
        if self.across is None:
            result = self.retriever.search(text, hist, k=self.settings.retrieval_k)
            comp = self.composer.compose(text, result)
            if comp.answered:
                comp = self._decide(text, result, comp)
            # a quoted standard carries the plan's date, also when it corrects the question
            caveats = [prompts.PERIOD_NOTICE] if comp.quoted_standard and comp.citations else []
        else:
            result, comp, caveats = self._answer_across(text, hist)
        body = comp.text
        for caveat in caveats:
            body += f"\n\n> {caveat}"
        if result.degraded and self.embeddings is not None:
            notices.append("向量检索暂不可用，本次仅按关键词检索。")
        if notices:
            body = "\n".join(f"> {n}" for n in notices) + "\n\n" + body
        ans = Answer(
            question=text,
            text=body,
            citations=comp.citations,
            sources=[self._source(h) for h in result.hits],
            answered=comp.answered,
            reason=comp.reason,
            notices=notices,
            degraded=result.degraded and self.embeddings is not None,
            timings=result.timings,
        )
        if comp.answered and self.llm_chain is not None:
            self._with_llm(ans, hist)
        return self._finish(ans, t0)

    def _answer_across(self, text: str, hist: list[dict]):
        """The answer when the library holds several documents (assistant/across.py): a
        document the question names narrows the sources; the newest document in force answers
        first and the older one is named after it; each document's own period caveat."""
        across = self.across
        k = self.settings.retrieval_k
        named = across.named_documents(text)
        # wider than k: another document's best source may rank below the plan's (the ranking's
        # learned parts know the plan); ordered by evidence below, then cut to k
        result = self.retriever.search(text, hist, k=k * 4 if named else k * 2)
        if named:
            only = [h for h in result.hits if self._document_of(h.id) in named]
            result.hits = (only or result.hits)[:k]
            if len(named) == 1:
                about = across.about_document(named[0], text)
                if about is not None:
                    first = [h for h in result.hits if h.id == about.citations[0]]
                    result.hits = first + [h for h in result.hits if h not in first]
                    return result, about, []
        # a year after the plan's period is no reason to decline when the documents that
        # answer speak for it
        speaking = named or {self._document_of(h.id) for h in result.hits[:3]}
        covered = across.covered_years(result.intent.years, speaking)
        result.intent.years = [y for y in result.intent.years if y not in covered]
        older = across.newer_first(result, self._document_of)
        across.by_evidence(result, self._document_of, self.retriever)
        result.hits = result.hits[:k]
        comp = self.composer.compose(text, result)
        if comp.answered:
            comp = self._decide(text, result, comp)
        if older and older[0] not in result.hits:
            # composed; the earlier document's best source stays among the sources shown, third
            rest = [h for h in result.hits if h is not older[0]]
            result.hits = (rest[:2] + older[:1] + rest[2:])[:k]
        if not comp.answered:
            if comp.reason == "not_in_plan":  # none of the documents answers, not only the plan
                text = comp.text.replace(prompts.NOT_IN_PLAN, prompts.NOT_IN_LIBRARY)
                text = text.replace(prompts.NEAREST_LEAD, prompts.NEAREST_LIBRARY)
                comp = comp.model_copy(update={"text": text})
            return result, comp, []
        first = self._document_of(comp.citations[0]) if comp.citations else ""
        caveats = [self._caveat(first)] if comp.quoted_standard and first else []
        if older and first and first != self._document_of(older[0].id):
            old = across.older_part(self.composer, text, result, older)
            if old.answered and old.citations:
                was = self._document_of(old.citations[0])
                comp = comp.model_copy(
                    update={
                        "text": f"{across.lead(first)}\n\n{comp.text}\n\n"
                        f"{across.label(was)}为：{old.text}",
                        "citations": comp.citations
                        + [c for c in old.citations if c not in comp.citations],
                    }
                )
                if old.quoted_standard:
                    caveats.append(self._caveat(was))
        return result, comp, list(dict.fromkeys(caveats))

    def _caveat(self, doc: str) -> str:
        meta = self.across.metas.get(doc) if self.across else None
        if meta is None or doc == self.composer.meta.id:
            return prompts.PERIOD_NOTICE
        return period_notice(meta)

    def _decide(self, text: str, result, comp):
        """Does the best evidence answer what is asked? The learned model says; without it,
        the evidence threshold of settings does."""
        if (
            result.hits
            and result.hits[0].via == "lookup"
            and (names_id(text) or self.index.names_record(text))
        ):
            return comp  # a record named by its number or by name alone: a lookup
        other = (
            self.across is not None
            and bool(result.hits)
            and self._document_of(result.hits[0].id) != self.composer.meta.id
        )
        if other:
            # the learned model knows the default plan (its training questions ask about it,
            # and call 高龄津贴 amounts a trap): another document's source needs its own support
            named = self._document_of(result.hits[0].id) in self.across.named_documents(text)
            ok = self.across.supported(result.hits[0], self.settings.min_evidence, named, result)
        elif self.decider is not None:
            ok, p = self.decider.decide(self.index, text, result)
            result.timings["answerable_p"] = p
        else:
            ok = bool(result.hits) and result.hits[0].evidence >= self.settings.min_evidence
        return comp if ok else self.composer.not_in_plan(text, result)

    def _with_llm(self, ans: Answer, hist: list[dict]) -> None:
        """Replace the extractive text by a checked LLM answer; on any failure keep it."""
        from .answer import numbers
        from .llm import (
            check_answer,
            generate,
            plain_text,
            readable_citations,
            without_citations,
        )

        t0 = time.perf_counter()
        try:
            raw = generate(self.llm_chain, ans.question, hist, ans.sources)
        except Exception as e:
            logger.warning("LLM unavailable, extractive answer given: %s", type(e).__name__)
            ans.notices.append(prompts.LLM_FALLBACK_NOTICE)
            ans.text = f"> {prompts.LLM_FALLBACK_NOTICE}\n\n{ans.text}"
            return
        finally:
            ans.timings["llm_ms"] = (time.perf_counter() - t0) * 1000
        raw = plain_text(raw)  # checked and shown as the same plain text
        checked = check_answer(raw, ans.sources)
        if not checked.ok:
            logger.warning("LLM answer rejected (%s); extractive answer given", checked.reason)
            ans.reason = None
            ans.timings["llm_rejected"] = 1.0
            return
        text = readable_citations(raw, ans.sources)
        # a standard or amount quoted (not 清单第48项, not a Chinese-numeral word) gets the caveat
        amounts = [q for q in numbers.quantities(without_citations(raw)) if q.unit != "ord"]
        if prompts.PERIOD_NOTICE not in text and amounts:
            text += f"\n\n> {prompts.PERIOD_NOTICE}"
        ans.text, ans.citations, ans.mode = text, checked.citations, "llm"

    def stream(self, question: object, history: list[dict] | None = None):
        """Yield (partial text, final Answer or None). The answer is checked before the first
        character is shown, so an unsupported number never appears even for a moment."""
        ans = self.answer(question, history)
        parts = pieces(ans.text)
        for shown in parts[:-1]:
            yield shown, None
        yield ans.text, ans

    def _source(self, h: Hit) -> Source:
        rec = self.by_id[h.id]
        snippet = ""
        if h.chunk_ids and h.chunk_ids[0] in self.index.chunk_pos:
            snippet = self.index.chunks[self.index.chunk_pos[h.chunk_ids[0]]].page_content
        return Source(
            id=h.id,
            title=h.title,
            readable=h.readable,
            kind=h.kind,
            text=rec.text,
            snippet=snippet,
            score=h.score,
            evidence=h.evidence,
            via=h.via,
        )

    def _finish(self, ans: Answer, t0: float) -> Answer:
        ans.timings["answer_ms"] = (time.perf_counter() - t0) * 1000
        logger.info(
            "answer",
            extra={
                "answered": ans.answered,
                "mode": ans.mode,
                "reason": ans.reason,
                "latency_ms": round(ans.timings["answer_ms"], 1),
                "degraded": ans.degraded,
            },
        )
        return ans

    @property
    def feedback(self):
        if self._feedback is None:
            from .feedback import FeedbackStore

            self._feedback = FeedbackStore(self.settings.feedback_db)
        return self._feedback

    def health(self) -> dict:
        from collections import Counter

        return {
            "status": "degraded" if self.retriever.last_error else "ok",
            "index_loaded": self.retriever.vectorstore is not None,
            "vector_search": "unavailable" if self.retriever.last_error else "ok",
            "model_id": self.embeddings.model_id if self.embeddings else None,
            "manifest": self.manifest,
            "records": dict(Counter(r.kind for r in self.records)),
            "chunks": len(self.index.chunks),
            "llm": bool(self.llm_chain),
        }

    def warm_up(self) -> None:
        """One query through every part, so the first user does not pay for lazy loading."""
        self.retriever.search("孤儿养育保障标准", None, k=3)


def quiet_libraries() -> None:
    """jieba prints "Building prefix dict…" to stderr from its own handler: to warnings only."""
    import jieba

    jieba.setLogLevel(logging.WARNING)


def release_memory() -> None:
    """Hand freed heap back to the system after start-up: glibc keeps what the ONNX loader and
    the index build freed (~90 MB measured) unless asked. A no-op where there is no glibc."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


_service: Service | None = None
_lock = threading.Lock()


def get_service() -> Service:
    global _service
    with _lock:
        if _service is None:
            _service = Service(get_settings())
            _service.warm_up()
            release_memory()
        return _service
