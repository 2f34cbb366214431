"""The one service: search() and answer(), shared by the page, the CLI, the API and eval."""

from __future__ import annotations

import logging
import threading
import time

from .documents import all_records
from .retrieval import Hit, PlanIndex, PlanRetriever, SearchResult
from .settings import Settings, get_settings
from .text import InputError, load_aliases, sanitize

logger = logging.getLogger(__name__)


class Service:
    def __init__(self, settings: Settings, with_vectors: bool = True, embeddings=None):
        t0 = time.perf_counter()
        self.settings = settings
        self.records = all_records(settings.corpus_dir)
        self.by_id = {r.id: r for r in self.records}
        self.index = PlanIndex(self.records, load_aliases(settings.corpus_dir))
        self.embeddings = None
        vectorstore = None
        self.manifest: dict | None = None
        if with_vectors:
            from .embeddings import make_embeddings
            from .store import ensure_index, open_vectorstore

            self.embeddings = embeddings or make_embeddings(settings)
            self.manifest = ensure_index(settings, self.embeddings, progress=False)
            vectorstore = open_vectorstore(settings, self.embeddings)
        self.retriever = PlanRetriever(
            index=self.index, vectorstore=vectorstore, settings=settings, k=settings.retrieval_k
        )
        self._llm = None
        logger.info("service ready in %.1f s", time.perf_counter() - t0)

    # -- retrieval

    def search_full(
        self, query: object, history: list[dict] | None = None, k: int | None = None
    ) -> SearchResult:
        clean = sanitize(query, self.settings.max_question_chars)
        result = self.retriever.search(clean.text, history, k=k or self.settings.retrieval_k)
        return result

    def search(self, query: object, k: int = 5, history: list[dict] | None = None) -> list[Hit]:
        return self.search_full(query, history, k).hits

    def warm_up(self) -> None:
        """One query through every part, so the first user does not pay for lazy loading."""
        try:
            self.retriever.search("孤儿养育保障标准", None, k=3)
        except InputError:  # pragma: no cover
            pass


_service: Service | None = None
_lock = threading.Lock()


def get_service() -> Service:
    global _service
    with _lock:
        if _service is None:
            _service = Service(get_settings())
            _service.warm_up()
        return _service
