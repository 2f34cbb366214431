"""Shared fixtures: the real plan, settings pointing at a temporary index."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.documents import Plan, load_plans
from assistant.settings import ROOT, Settings

CORPUS = ROOT / "corpus"
SOURCE = CORPUS / "jinan-2018-5-public-services-plan.txt"


@pytest.fixture(scope="session")
def plan() -> Plan:
    return load_plans(CORPUS)[0]


@pytest.fixture(scope="session")
def by_id(plan):
    return plan.by_id()


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", feedback_db=tmp_path / "feedback.sqlite3")


class FakeEmbeddings:
    """DeterministicFakeEmbedding with the two attributes the store's manifest needs."""

    def __init__(self, size: int = 32, model_id: str = "fake-model"):
        from langchain_core.embeddings import DeterministicFakeEmbedding

        self._inner = DeterministicFakeEmbedding(size=size)
        self.model_id = model_id
        self.dimension = size
        self.calls = 0

    def embed_documents(self, texts):
        self.calls += 1
        return self._inner.embed_documents(texts)

    def embed_query(self, text):
        return self._inner.embed_query(text)


@pytest.fixture(scope="session")
def bm25_service(tmp_path_factory):
    """The whole answer path without vectors: fast, for composer and guard tests."""
    from assistant.service import Service

    s = Settings(index_dir=tmp_path_factory.mktemp("bm25-index"))
    return Service(s, with_vectors=False)


@pytest.fixture(scope="session")
def service(tmp_path_factory):
    """The real thing: converted e5 model (cached), real Chroma in a temporary folder."""
    from assistant.service import Service

    s = Settings(index_dir=tmp_path_factory.mktemp("index"))
    svc = Service(s)
    svc.warm_up()
    return svc
