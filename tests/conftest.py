"""Shared fixtures: the real plan, settings pointing at a temporary index."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    """A real `chroma run` server on localhost, answering its heartbeat."""
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail("chroma server did not start")


class LiveServer:
    """The real app (page + API) under uvicorn in a thread, on a free loopback port."""

    def __init__(self, app, port: int):
        import uvicorn

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        import threading

        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        import time
        import urllib.request

        self.thread.start()
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=2)
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="session")
def live(service, tmp_path_factory):
    """The page and the API over the real service."""
    from assistant.server import create_app

    service.settings.feedback_db = tmp_path_factory.mktemp("fb") / "feedback.sqlite3"
    service._feedback = None
    app = create_app(service, service.settings)
    with LiveServer(app, free_port()) as srv:
        yield srv


@pytest.fixture(scope="module")
def fake_llm():
    """A scripted OpenAI-compatible endpoint on localhost (one per test module)."""
    from .fake_openai import FakeOpenAI

    with FakeOpenAI() as srv:
        yield srv


@pytest.fixture(scope="module")
def llm_service(fake_llm, tmp_path_factory):
    """BM25-only service whose answers go through the LLM path to `fake_llm`."""
    from assistant.service import Service

    s = Settings(
        llm_base_url=fake_llm.url, llm_timeout=3.0, index_dir=tmp_path_factory.mktemp("llm")
    )
    return Service(s, with_vectors=False)
