"""The Chroma collection: build, open, keep in step with the documents, and the manifest.

Persistent in ``index/`` by default, or a Chroma server when ``chroma_url`` is set. The
manifest (model id, dimension, schema version, and per document a hash of its chunks and their
count) is written beside the persistent store and into the collection's metadata, so an index
built with another model is never mixed with this one.

Incremental: chunk IDs are the records' citation IDs (``清单-56#0``, ``DOC:条款-3#0``), each
chunk's metadata names its document (``plan``). Opening compares each document's hash with the
manifest: an unchanged corpus embeds nothing; a changed document re-embeds only chunks whose
text is new (vectors of texts it already had are reused); an added document embeds only its
own chunks whose text is not already in the store (each stored chunk carries its text's hash,
``text_sha``, so a passage two documents share is embedded once); a removed one has its chunks
deleted. Each document's hash comes from its parsed copy (``Plan.digest``): an unchanged
library is checked without building a single chunk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

from langchain_core.documents import Document

from .chunks import SCHEMA_VERSION, build_chunks, digest, text_hash
from .documents import Plan, all_plans, corpus_hash
from .settings import Settings

logger = logging.getLogger(__name__)

MANIFEST_KEYS = ("corpus_hash", "model_id", "dimension", "chunks", "schema", "documents")
BATCH = 1000  # rows per Chroma call (its own maximum is larger; this keeps memory flat)
TEXT_KEY = "text_sha"  # stored with each chunk (not part of its Document): vectors by text


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


def document_digest(plan: Plan) -> dict:
    """The document's manifest entry ({"hash", "chunks"}): kept with a library document's
    parsed copy; computed once per process for the corpus's plans."""
    if not plan.digest:
        plan.digest = digest(plan.records)
    return plan.digest


def document_chunks(plans: tuple[Plan, ...] | list[Plan]) -> dict[str, list[Document]]:
    out = {p.meta.id: build_chunks(p.records) for p in plans}
    ids = [d.id for docs in out.values() for d in docs]
    assert len(ids) == len(set(ids)), "chunk IDs must be unique"
    return out


def expected_manifest(
    settings: Settings,
    model_id: str,
    dimension: int,
    plans: tuple[Plan, ...] | list[Plan] | None = None,
) -> dict:
    """The manifest an index of these documents (all of the corpus and the library by default)
    built with this model has."""
    if plans is None:
        plans = all_plans(settings.corpus_dir, settings.library_path)
    documents = {p.meta.id: dict(document_digest(p)) for p in plans}
    whole = hashlib.sha256(json.dumps(documents, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "corpus_hash": whole,
        "model_id": model_id,
        "dimension": dimension,
        "chunks": sum(d["chunks"] for d in documents.values()),
        "schema": SCHEMA_VERSION,
        "documents": documents,
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
    if found["documents"] is not None:
        found["documents"] = json.loads(found["documents"])
    found["count"] = col.count()
    return found


def _collection_metadata(manifest: dict) -> dict:
    meta = {f"policyqa_{k}": v for k, v in manifest.items() if k != "documents"}
    return meta | {"policyqa_documents": json.dumps(manifest["documents"], ensure_ascii=False)}


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
    if found["schema"] != want["schema"] or found["documents"] is None:
        return "stale", "切分方式已变化，索引需要重建。"
    if found.get("count") != found["chunks"]:
        return "stale", "索引中的片段数与清单不符，索引需要重建。"
    return None


def _migrate(found: dict | None, want: dict, settings: Settings) -> dict | None:
    """An index written before documents were tracked (one seed plan, the same model and schema):
    its chunks are the seed's, so it is taken as it is instead of being built again."""
    if not found or found.get("foreign") or found.get("documents") is not None:
        return found
    seed = {p.meta.id for p in all_plans(settings.corpus_dir)}
    docs = {d: v for d, v in want["documents"].items() if d in seed}
    if (
        found["corpus_hash"] == corpus_hash(settings.corpus_dir)
        and found["schema"] == want["schema"]
        and found.get("count") == found["chunks"] == sum(v["chunks"] for v in docs.values())
    ):
        return found | {"documents": docs}
    return found


def ensure_index(
    settings: Settings,
    embeddings=None,
    rebuild: bool = False,
    progress: bool = False,
    plans: tuple[Plan, ...] | None = None,
):
    """Make sure the collection holds these documents (the corpus and the library by default)
    embedded by this model: build it when missing or foreign, else bring each document up to
    date (only what changed is embedded). Returns the manifest."""
    from .embeddings import make_embeddings

    embeddings = embeddings or make_embeddings(settings)
    if plans is None:
        plans = all_plans(settings.corpus_dir, settings.library_path)
    want = expected_manifest(settings, embeddings.model_id, embeddings.dimension, plans)
    with index_lock(settings):  # one process checks or builds at a time; the others wait
        return _ensure(settings, embeddings, plans, want, rebuild, progress)


@contextlib.contextmanager
def index_lock(settings: Settings):
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


def _ensure(settings: Settings, embeddings, plans, want, rebuild: bool, progress: bool):
    """ensure_index inside the lock: chunks are built only for what is (re)written."""
    client = _open_or_reset(settings)
    found = read_manifest(client, settings)
    if found and not settings.chroma_url and not manifest_path(settings).exists():
        found = None  # the manifest file went missing: trust nothing, rebuild
    found = _migrate(found, want, settings)
    problem = None if rebuild else _problem(found, want)
    if problem and problem[0] in {"model", "foreign"} and settings.chroma_url:
        raise IndexError_(
            f"{problem[1]} 这是共享的 Chroma 服务器，不会自动覆盖：确认后运行 policyqa index --rebuild。"
        )
    if rebuild or problem:
        if problem:
            logging.getLogger("policyqa.steps").warning("建立索引：%s", problem[1])
        _build(client, settings, embeddings, document_chunks(plans), want, progress)
        return want
    col = client.get_collection(settings.chroma_collection)
    have = found["documents"]
    changed = False
    for plan in plans:
        doc = plan.meta.id
        if have.get(doc) != want["documents"][doc]:
            logger.info("index: document %s changed, updating its chunks", doc)
            sync_document(col, embeddings, doc, build_chunks(plan.records), progress=progress)
            changed = True
    for doc in set(have) - set(want["documents"]):
        logger.info("index: document %s removed, deleting its chunks", doc)
        col.delete(where={"plan": doc})
        changed = True
    if changed or found.get("corpus_hash") != want["corpus_hash"]:
        if col.count() != want["chunks"]:  # chunks nobody accounts for: start clean
            logging.getLogger("policyqa.steps").warning("建立索引：片段数与清单不符，重建。")
            _build(client, settings, embeddings, document_chunks(plans), want, progress)
            return want
        write_manifest(col, settings, want)
    elif not settings.chroma_url and _read_manifest_file(settings) != want:
        write_manifest(col, settings, want)
    return want


def _read_manifest_file(settings: Settings) -> dict | None:
    try:
        return json.loads(manifest_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_manifest(col, settings: Settings, manifest: dict) -> None:
    """Into the collection's metadata and, for a persistent store, beside it (atomically)."""
    col.modify(metadata=_collection_metadata(manifest))
    if not settings.chroma_url:
        path = manifest_path(settings)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)


def sync_document(
    col,
    embeddings,
    doc: str,
    chunks: list[Document],
    progress: bool = False,
    added: bool = False,
) -> int:
    """Make the collection hold exactly ``chunks`` for document ``doc``; returns how many texts
    were embedded. A text already in the store (this document's earlier version, or a passage
    another document has word for word) keeps its vector. ``added``: a document being added
    (Library.add) is embedded by ``embeddings.embed_passages`` when it has one (the ONNX
    bundle, no PyTorch: embeddings.SentenceTransformerEmbeddings.embed_passages)."""
    old = col.get(where={"plan": doc}, include=["embeddings", "documents"])
    reuse = {}
    for text, vec in zip(
        old["documents"] or [], old["embeddings"] if old["ids"] else [], strict=False
    ):
        reuse[text] = vec
    wanted = list(dict.fromkeys(d.page_content for d in chunks if d.page_content not in reuse))
    reuse |= stored_vectors(col, wanted)
    new_texts = [t for t in wanted if t not in reuse]
    vectors = embed_texts(embeddings, new_texts, doc, progress, added=added)
    for text, vec in zip(new_texts, vectors, strict=True):
        reuse[text] = vec
    keep = {d.id for d in chunks}
    stale = [i for i in old["ids"] if i not in keep]
    for i in range(0, len(stale), BATCH):
        col.delete(ids=stale[i : i + BATCH])
    for i in range(0, len(chunks), BATCH):
        part = chunks[i : i + BATCH]
        col.upsert(
            ids=[d.id for d in part],
            embeddings=[list(map(float, reuse[d.page_content])) for d in part],
            documents=[d.page_content for d in part],
            metadatas=[_stored_metadata(d) for d in part],
        )
    return len(new_texts)


def _stored_metadata(d: Document) -> dict:
    return d.metadata | {TEXT_KEY: text_hash(d.page_content)}


def stored_vectors(col, texts: list[str]) -> dict[str, list[float]]:
    """Vectors the store already holds for these texts (found by their hash, checked by the
    text itself); chunks written before the hash was stored are simply not found."""
    by_hash = {text_hash(t): t for t in texts}
    out: dict[str, list[float]] = {}
    keys = list(by_hash)
    step = 500
    for i in range(0, len(keys), step):
        got = col.get(
            where={TEXT_KEY: {"$in": keys[i : i + step]}}, include=["embeddings", "documents"]
        )
        if not got["ids"]:
            continue
        for text, vec in zip(got["documents"], got["embeddings"], strict=True):
            if by_hash.get(text_hash(text)) == text:  # the text itself, not only its key
                out[text] = vec
    return out


def embed_texts(
    embeddings, texts: list[str], doc: str = "", progress: bool = False, added: bool = False
) -> list:
    """Passages to vectors in one call (sorted by length inside, so batches pad least); with
    a progress bar, in 4 slices. ``added``: on the encoder for added documents when there is
    one (see sync_document)."""
    if not texts:
        return []
    embed = embeddings.embed_documents
    if added and hasattr(embeddings, "embed_passages"):
        embed = embeddings.embed_passages
    if not progress:
        return list(embed(texts))
    from tqdm import tqdm

    out: list = []
    step = max(1, min(BATCH, -(-len(texts) // 4)))
    with tqdm(total=len(texts), desc=f"嵌入 {doc}", unit="段") as bar:
        for i in range(0, len(texts), step):
            out += embed(texts[i : i + step])
            bar.update(len(texts[i : i + step]))
    return out


def delete_document(col, doc: str) -> None:
    col.delete(where={"plan": doc})


def get_collection(settings: Settings):
    return open_client(settings).get_collection(settings.chroma_collection)


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
    client,
    settings: Settings,
    embeddings,
    by_doc: dict[str, list[Document]],
    want: dict,
    progress: bool,
):
    from tqdm import tqdm

    t0 = time.perf_counter()
    chunks = [d for docs in by_doc.values() for d in docs]
    with contextlib.suppress(Exception):
        client.delete_collection(settings.chroma_collection)
    # a few hundred vectors: a search this wide is exact, so answers do not vary run to run
    # (the default ef returned near-ties in another order now and then)
    meta = {
        "hnsw:space": "cosine",
        "hnsw:search_ef": 400,
        "hnsw:construction_ef": 400,
    } | _collection_metadata(want)
    col = client.create_collection(
        settings.chroma_collection, metadata=meta, embedding_function=None
    )
    # 4 slices: a progress bar that moves, while each slice is still sorted by length inside
    # sentence-transformers (less padding than small batches in document order)
    step = max(1, min(BATCH, -(-len(chunks) // 4)))
    bar = tqdm(total=len(chunks), desc="建立索引", unit="段", disable=not progress)
    for i in range(0, len(chunks), step):
        part = chunks[i : i + step]
        vectors = embeddings.embed_documents([d.page_content for d in part])
        col.add(
            ids=[d.id for d in part],
            embeddings=vectors,
            documents=[d.page_content for d in part],
            metadatas=[_stored_metadata(d) for d in part],
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
