"""The Chroma index and its manifest: built once, rebuilt when stale, never mixed."""

from __future__ import annotations

import json

import pytest

from assistant.chunks import build_chunks, split_sentences
from assistant.documents import all_records
from assistant.store import ensure_index, manifest_path, open_client, open_vectorstore

from .conftest import CORPUS, FakeEmbeddings, free_port, start_chroma


def test_chunks_are_stable_and_labelled():
    records = all_records(CORPUS)
    first, second = build_chunks(records), build_chunks(records)
    assert [d.id for d in first] == [d.id for d in second]
    assert len({d.id for d in first}) == len(first)
    by_id = {d.id: d for d in first}
    orphan = by_id["清单-56#0"]
    assert orphan.page_content.startswith(
        "附件1 基本公共服务清单 › 五、基本社会服务 › 第56项 孤儿养育保障"
    )
    assert "服务对象：" in orphan.page_content and "服务指导标准：" in orphan.page_content
    assert orphan.metadata["citation_id"] == "清单-56" and orphan.metadata["item_number"] == 56
    assert orphan.metadata["domain"] == "基本社会服务"
    sub = [d for d in first if d.metadata["citation_id"] == "章节-三（五）"]
    assert sub and all(d.metadata["section_path"].endswith("（五）基本社会服务") for d in sub)
    indicators = [d for d in first if d.metadata["citation_id"] == "专栏-1"]
    assert len(indicators) == 30


def test_split_never_cuts_a_sentence():
    text = "第一句话很长。" * 80
    pieces = split_sentences(text, 100)
    assert "".join(pieces) == text
    assert all(p.endswith("。") and len(p) <= 100 for p in pieces)


def test_index_built_once_then_reused(tmp_settings):
    emb = FakeEmbeddings()
    m1 = ensure_index(tmp_settings, emb)
    assert emb.calls > 0 and m1["chunks"] == len(build_chunks(all_records(CORPUS)))
    assert json.loads(manifest_path(tmp_settings).read_text())["model_id"] == "fake-model"
    calls = emb.calls
    assert ensure_index(tmp_settings, emb) == m1
    assert emb.calls == calls  # up to date: nothing embedded again


def test_other_model_or_dimension_rebuilds_not_mixes(tmp_settings):
    ensure_index(tmp_settings, FakeEmbeddings(32, "model-a"))
    other = FakeEmbeddings(16, "model-b")
    m = ensure_index(tmp_settings, other)
    assert m["model_id"] == "model-b" and other.calls > 0
    col = open_client(tmp_settings).get_collection(tmp_settings.chroma_collection)
    assert col.metadata["policyqa_model_id"] == "model-b"
    got = col.get(limit=1, include=["embeddings"])
    assert len(got["embeddings"][0]) == 16


def test_corrupted_index_is_moved_aside_and_rebuilt(tmp_settings):
    ensure_index(tmp_settings, FakeEmbeddings())
    db = tmp_settings.index_dir / "chroma" / "chroma.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    m = ensure_index(tmp_settings, FakeEmbeddings())
    assert m["chunks"] > 0
    assert list(tmp_settings.index_dir.parent.glob("index.broken-*"))


def test_vectorstore_search_uses_our_embeddings(tmp_settings):
    emb = FakeEmbeddings()
    ensure_index(tmp_settings, emb)
    vs = open_vectorstore(tmp_settings, emb)
    pairs = vs.similarity_search_by_vector_with_relevance_scores(emb.embed_query("孤儿"), k=3)
    assert len(pairs) == 3 and all(doc.id for doc, _ in pairs)


@pytest.mark.slow
def test_a_foreign_model_on_a_shared_chroma_server_is_refused(tmp_path):
    """On a shared `chroma run` server another model's index is refused, never overwritten.

    (That the index lives on the server at all is proved by test_faults: it goes when it does.)
    """
    from assistant.settings import Settings
    from assistant.store import IndexError_

    port = free_port()
    proc = start_chroma(tmp_path / "srv", port)
    try:
        settings = Settings(chroma_url=f"http://127.0.0.1:{port}", index_dir=tmp_path / "unused")
        ensure_index(settings, FakeEmbeddings())
        with pytest.raises(IndexError_, match="--rebuild"):
            ensure_index(settings, FakeEmbeddings(16, "other-model"))
        col = open_client(settings).get_collection(settings.chroma_collection)
        assert col.metadata["policyqa_model_id"] == "fake-model"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_two_processes_starting_at_once_build_the_index_once(tmp_settings):
    """Two starts racing on an empty store: one builds, the other waits and finds it built
    (before, the second deleted the collection under the first, or moved the store aside)."""
    from concurrent.futures import ThreadPoolExecutor

    from assistant.store import _damaged, ensure_index

    embeddings = [FakeEmbeddings(), FakeEmbeddings()]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda e: ensure_index(tmp_settings, e), embeddings))
    assert results[0] == results[1]
    assert sorted(e.calls > 0 for e in embeddings) == [False, True]  # one of them built
    assert not list(tmp_settings.index_dir.parent.glob("index.broken-*"))
    assert not _damaged(tmp_settings)


def test_only_a_damaged_store_counts_as_damaged(tmp_settings):
    from assistant.store import _damaged, ensure_index

    ensure_index(tmp_settings, FakeEmbeddings())
    assert not _damaged(tmp_settings)
    (tmp_settings.index_dir / "chroma" / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    assert _damaged(tmp_settings)


def test_a_records_chunks_are_built_once_while_it_lives():
    """The index check, the add and each reload ask for the same records' chunks: built once
    per record, equal to a fresh build, and forgotten with the record."""
    import gc

    from assistant import chunks

    plan = load_plans_fresh()
    first = build_chunks(plan.records)
    again = build_chunks(plan.records)
    assert all(a is b for a, b in zip(first, again, strict=True))
    fresh = [d for r in plan.records for d in chunks.record_chunks(r)]
    assert [(d.id, d.page_content, d.metadata) for d in first] == [
        (d.id, d.page_content, d.metadata) for d in fresh
    ]
    held = len(chunks._BUILT)
    del plan, first, again, fresh
    gc.collect()
    assert len(chunks._BUILT) <= held - 165  # the plan's records are gone, so are their chunks


def load_plans_fresh():
    """The seed parsed anew (not the cached plan every test shares)."""
    from assistant.documents import iter_plan_files, parse_plan

    text_file, meta = next(iter(iter_plan_files(CORPUS)))
    return parse_plan(text_file.read_text(encoding="utf-8"), meta)
