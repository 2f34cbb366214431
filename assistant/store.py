"""The Chroma collection: build, open, and the manifest that keeps an index honest.

Persistent in ``index/`` by default, or a Chroma server when ``chroma_url`` is set. The
manifest (corpus hash, model id, dimension, chunk count, schema version) is written beside
the persistent store and into the collection's metadata, so a stale index is rebuilt and one
built with another model is never mixed with this one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

from langchain_core.documents import Document

from .chunks import SCHEMA_VERSION, build_chunks
from .documents import all_records, corpus_hash
from .settings import Settings

logger = logging.getLogger(__name__)

MANIFEST_KEYS = ("corpus_hash", "model_id", "dimension", "chunks", "schema")


class IndexError_(RuntimeError):
    """The index cannot be used as it is; the message says why and what to do."""


def _chroma_settings():
    import chromadb.config

    # no telemetry on a government intranet; never let Chroma pick an embedding function
    return chromadb.config.Settings(anonymized_telemetry=False, allow_reset=False)


def open_client(settings: Settings):
    import chromadb

    if settings.chroma_url:
        u = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=u.hostname or "localhost",
            port=u.port or (443 if u.scheme == "https" else 8000),
            ssl=u.scheme == "https",
            settings=_chroma_settings(),
        )
    path = settings.index_dir / "chroma"
    if not path.exists():
        # chroma caches an opened store per path: a deleted folder must not be served from it
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


def manifest_path(settings: Settings) -> Path:
    return settings.index_dir / "manifest.json"


def expected_manifest(settings: Settings, model_id: str, dimension: int, n_chunks: int) -> dict:
    return {
        "corpus_hash": corpus_hash(settings.corpus_dir),
        "model_id": model_id,
        "dimension": dimension,
        "chunks": n_chunks,
        "schema": SCHEMA_VERSION,
    }


def read_manifest(client, settings: Settings) -> dict | None:
    try:
        col = client.get_collection(settings.chroma_collection)
    except Exception:
        return None
    meta = col.metadata or {}
    found = {k: meta.get(f"policyqa_{k}") for k in MANIFEST_KEYS}
    if found["model_id"] is None:
        return {"foreign": True}
    found["count"] = col.count()
    return found


def _problem(found: dict | None, want: dict) -> tuple[str, str] | None:
    """(kind, message) when the existing index cannot serve; None when it is current."""
    if found is None:
        return "missing", "还没有索引，正在建立。"
    if found.get("foreign"):
        return "foreign", "集合不是本程序建立的（没有清单信息）。"
    if found["model_id"] != want["model_id"] or found["dimension"] != want["dimension"]:
        return "model", (
            f"索引用的是另一个向量模型（{found['model_id']}，{found['dimension']} 维），"
            f"当前模型是 {want['model_id']}（{want['dimension']} 维）。"
        )
    if (
        found["corpus_hash"] != want["corpus_hash"]
        or found["schema"] != want["schema"]
        or found["chunks"] != want["chunks"]
        or found.get("count") != want["chunks"]
    ):
        return "stale", "语料或切分方式已变化，索引需要重建。"
    return None


def ensure_index(
    settings: Settings, embeddings=None, rebuild: bool = False, progress: bool = False
):
    """Make sure the collection matches corpus and model; build it when needed. Returns the manifest."""
    from .embeddings import make_embeddings

    embeddings = embeddings or make_embeddings(settings)
    chunks = build_chunks(all_records(settings.corpus_dir))
    want = expected_manifest(settings, embeddings.model_id, embeddings.dimension, len(chunks))
    with _index_lock(settings):  # one process checks or builds at a time; the others wait
        return _ensure(settings, embeddings, chunks, want, rebuild, progress)


@contextlib.contextmanager
def _index_lock(settings: Settings):
    """An exclusive lock beside the persistent store (not in it: a damaged store is moved)."""
    if settings.chroma_url:
        yield
        return
    import fcntl

    settings.index_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = settings.index_dir.with_name(f".{settings.index_dir.name}.lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ensure(settings: Settings, embeddings, chunks, want, rebuild: bool, progress: bool):
    client = _open_or_reset(settings)
    found = read_manifest(client, settings)
    if found and not settings.chroma_url and not manifest_path(settings).exists():
        found = None  # the manifest file went missing: trust nothing, rebuild
    problem = None if rebuild else _problem(found, want)
    if not rebuild and problem is None:
        return want
    if problem and problem[0] in {"model", "foreign"} and settings.chroma_url:
        raise IndexError_(
            f"{problem[1]} 这是共享的 Chroma 服务器，不会自动覆盖：确认后运行 policyqa index --rebuild。"
        )
    if problem:
        logging.getLogger("policyqa.steps").warning("建立索引：%s", problem[1])
    _build(client, settings, embeddings, chunks, want, progress)
    return want


def _damaged(settings: Settings) -> bool:
    """Whether the store's database is missing its tables or fails SQLite's own check."""
    import sqlite3

    db = settings.index_dir / "chroma" / "chroma.sqlite3"
    if not db.exists():
        return True
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as c:
            ok = c.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            tables = c.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()
            return not ok or tables[0] == 0
    except sqlite3.Error:
        return True


def _open_or_reset(settings: Settings):
    try:
        client = open_client(settings)
        client.list_collections()
        return client
    except Exception as e:
        if settings.chroma_url:
            raise IndexError_(f"无法连接 Chroma 服务器 {settings.chroma_url}：{e}") from e
        if not _damaged(settings):
            raise  # readable, just not now (another process): never move a good store aside
        # a damaged persistent store is generated data: move it aside and start again
        broken = settings.index_dir.with_name(
            f"{settings.index_dir.name}.broken-{int(time.time())}"
        )
        logger.error(
            "the index at %s cannot be opened (%s); moved to %s, rebuilding",
            settings.index_dir,
            e,
            broken,
        )
        shutil.move(str(settings.index_dir), str(broken))
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()  # chroma caches the old store per path
        return open_client(settings)


def _build(
    client, settings: Settings, embeddings, chunks: list[Document], want: dict, progress: bool
):
    from tqdm import tqdm

    t0 = time.perf_counter()
    with contextlib.suppress(Exception):
        client.delete_collection(settings.chroma_collection)
    # a few hundred vectors: a search this wide is exact, so answers do not vary run to run
    # (the default ef returned near-ties in another order now and then)
    meta = {
        "hnsw:space": "cosine",
        "hnsw:search_ef": 400,
        "hnsw:construction_ef": 400,
    } | {f"policyqa_{k}": v for k, v in want.items()}
    col = client.create_collection(
        settings.chroma_collection, metadata=meta, embedding_function=None
    )
    # 4 slices: a progress bar that moves, while each slice is still sorted by length inside
    # sentence-transformers (less padding than small batches in document order)
    step = max(1, -(-len(chunks) // 4))
    bar = tqdm(total=len(chunks), desc="建立索引", unit="段", disable=not progress)
    for i in range(0, len(chunks), step):
        part = chunks[i : i + step]
        vectors = embeddings.embed_documents([d.page_content for d in part])
        col.add(
            ids=[d.id for d in part],
            embeddings=vectors,
            documents=[d.page_content for d in part],
            metadatas=[d.metadata for d in part],
        )
        bar.update(len(part))
    bar.close()
    if not settings.chroma_url:
        manifest_path(settings).write_text(json.dumps(want, ensure_ascii=False, indent=1))
    logger.info("index built: %d chunks in %.1f s", len(chunks), time.perf_counter() - t0)


def open_vectorstore(settings: Settings, embeddings):
    """The langchain Chroma vector store over the (already ensured) collection."""
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=settings.chroma_collection,
        embedding_function=embeddings,
        client=open_client(settings),
        create_collection_if_not_exists=False,
    )


def nearest(vectorstore, embedding: list[float], k: int) -> list[tuple[str, float]]:
    """(chunk id, cosine distance) of the k nearest chunks, closest first.

    Asks the collection for distances only: the chunk texts are already in memory, and having
    Chroma read documents and metadata back from SQLite tripled the cost of a vector search
    (~7 ms against ~2.3 ms per question, measured side by side).
    """
    res = vectorstore._collection.query(  # langchain-chroma always fetches documents too
        query_embeddings=[embedding], n_results=k, include=["distances"]
    )
    return list(zip(res["ids"][0], res["distances"][0], strict=True))
