"""Retrieval baselines measured beside ours: tutorial RAG (500/50 chunks), BM25-only, dense-only."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .documents import cjk_only, load_plans

Search = Callable[[str, list[dict] | None], list[str]]


def _bigrams(text: str) -> set[str]:
    s = cjk_only(text)
    return {s[i : i + 2] for i in range(len(s) - 1)}


def _dedupe(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def tutorial_chunks(service) -> tuple[list[str], list[list[str]]]:
    """RecursiveCharacterTextSplitter(500, 50) over the raw text; each chunk mapped to the records
    whose text it mostly contains (CJK bigram overlap), so it can be scored by citation ID."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    plan = load_plans(service.settings.corpus_dir)[0]
    raw = (service.settings.corpus_dir / plan.meta.text).read_text(encoding="utf-8")
    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    chunks = splitter.split_text(raw)
    rec_grams = [(r.id, _bigrams(r.text + r.title)) for r in service.records]
    labels = []
    for c in chunks:
        grams = _bigrams(c)
        if not grams:
            labels.append([])
            continue
        # credit the chunk with every record it holds a fair share of, or mostly contains
        scored = sorted(
            (
                (len(grams & g) / len(grams), len(grams & g) / max(len(g), 1), rid)
                for rid, g in rec_grams
            ),
            reverse=True,
        )
        keep = [rid for share, held, rid in scored if share >= 0.1 or held >= 0.5] or [scored[0][2]]
        labels.append(keep)
    return chunks, labels


def build_baselines(service) -> dict[str, Search]:
    index = service.index
    retriever = service.retriever
    n = service.settings.retrieval_candidates
    systems: dict[str, Search] = {
        "ours (hybrid)": lambda q, h: [x.id for x in retriever.search(q, h, k=5).hits],
    }

    def bm25_only(q: str, h=None) -> list[str]:
        ranked = index.bm25_rank(index.tokenizer.tokens(q), n)
        return _dedupe([index.chunks[i].metadata["citation_id"] for i, _ in ranked])

    systems["bm25-only (our chunks)"] = bm25_only
    if retriever.vectorstore is not None:

        def dense_only(q: str, h=None) -> list[str]:
            ranked, _, _ = retriever._dense(q, n)
            return _dedupe([index.chunks[i].metadata["citation_id"] for i, _ in ranked])

        systems["dense-only (our chunks)"] = dense_only

        chunks, labels = tutorial_chunks(service)
        emb = service.embeddings
        matrix = np.array(emb.embed_documents(chunks), dtype=np.float32)

        def tutorial(q: str, h=None) -> list[str]:
            v = np.array(emb.embed_query(q), dtype=np.float32)
            order = np.argsort(-(matrix @ v))[:n]
            return _dedupe([rid for i in order for rid in labels[i]])

        systems["tutorial RAG (500/50, e5)"] = tutorial

        import bm25s

        tok = [index.tokenizer.tokens(c) for c in chunks]
        bm = bm25s.BM25()
        bm.index(tok, show_progress=False)
        vocab = set(bm.vocab_dict)

        def tutorial_bm25(q: str, h=None) -> list[str]:
            qt = [t for t in index.tokenizer.tokens(q) if t in vocab]
            if not qt:
                return []
            scores = bm.get_scores(qt)
            order = np.argsort(-scores)[:n]
            return _dedupe([rid for i in order if scores[i] > 0 for rid in labels[i]])

        systems["tutorial BM25 (500/50, jieba)"] = tutorial_bm25
    return systems
