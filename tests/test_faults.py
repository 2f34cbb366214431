"""Faults, each proved: vector store down and back, index lost, locked feedback DB, LLM down."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading

import pytest
from fastapi.testclient import TestClient

from assistant.feedback import FeedbackStore
from assistant.server import create_app
from assistant.service import Service
from assistant.settings import Settings

from .conftest import FakeEmbeddings, free_port, start_chroma

Q = "婚前医学检查收费吗？"


@pytest.mark.slow
def test_chroma_server_down_then_back(tmp_path, caplog):
    port = free_port()
    proc = start_chroma(tmp_path / "srv", port)
    try:
        s = Settings(chroma_url=f"http://127.0.0.1:{port}", index_dir=tmp_path / "unused")
        svc = Service(s, embeddings=FakeEmbeddings())
        assert not svc.answer(Q).degraded

        proc.terminate()
        proc.wait(timeout=20)
        down = svc.answer(Q)
        assert down.answered and down.degraded and "仅按关键词检索" in down.text
        assert "清单-41" in down.citations
        assert svc.health()["status"] == "degraded"
        assert any("vector search unavailable" in r.getMessage() for r in caplog.records)

        proc = start_chroma(tmp_path / "srv", port)  # the same data comes back
        back = svc.answer(Q)
        assert not back.degraded and "仅按关键词检索" not in back.text
        assert svc.health()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_index_folder_deleted_is_rebuilt_on_start(tmp_path, caplog):
    s = Settings(index_dir=tmp_path / "index")
    Service(s, embeddings=FakeEmbeddings())
    shutil.rmtree(s.index_dir)
    emb = FakeEmbeddings()
    svc = Service(s, embeddings=emb)
    assert emb.calls > 0 and (s.index_dir / "manifest.json").exists()
    assert "正在建立" in caplog.text
    assert svc.answer(Q).answered


def test_concurrent_writers_lose_no_row(tmp_path):
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path)
    errors = []

    def writer(n: int):
        own = FeedbackStore(path)
        for i in range(25):
            try:
                own.add("up" if i % 2 else "down", f"问题{n}-{i}", "答复", ["清单-1"])
            except Exception as e:
                errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = store.rows()
    assert len(rows) == 200 and len({r["question"] for r in rows}) == 200


class _Signal(logging.Handler):
    """Sets an event when a record containing `words` is logged."""

    def __init__(self, words: str):
        super().__init__(logging.WARNING)
        self.words, self.seen = words, threading.Event()

    def emit(self, record):
        if self.words in record.getMessage():
            self.seen.set()


def test_a_write_waits_out_a_lock_held_past_the_busy_timeout(tmp_path):
    """Another process holds the write lock until the writer has given up once and retried."""
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path)
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    signal = _Signal("feedback store busy")
    log = logging.getLogger("assistant.feedback")
    log.addHandler(signal)
    errors = []

    def write():
        try:
            FeedbackStore(path).add("up", "锁住时的问题", "答复", ["清单-1"])
        except Exception as e:
            errors.append(e)

    writer = threading.Thread(target=write)
    try:
        writer.start()
        assert signal.seen.wait(timeout=60), "the writer never reported the lock"
        assert writer.is_alive()  # still retrying, not failed
    finally:
        blocker.execute("COMMIT")
        blocker.close()
        log.removeHandler(signal)
        writer.join(timeout=60)
    assert errors == [] and [r["question"] for r in store.rows()] == ["锁住时的问题"]


def test_llm_down_through_the_api_is_a_200_with_extractive_answer(tmp_path):
    s = Settings(llm_base_url="http://127.0.0.1:9/v1", llm_timeout=1.0, index_dir=tmp_path / "i")
    c = TestClient(create_app(Service(s, with_vectors=False), s, with_page=False))
    r = c.post(
        "/v1/chat/completions",
        json={"model": "policyqa", "messages": [{"role": "user", "content": Q}]},
    )
    assert r.status_code == 200 and r.json()["policyqa"]["mode"] == "extractive"
    text = r.json()["choices"][0]["message"]["content"]
    assert "免费婚前医学检查" in text and "智能生成暂不可用" in text
