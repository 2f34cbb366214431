"""Records -> langchain Documents: one per item, task, indicator, box row, section passage."""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections.abc import Iterable

from langchain_core.documents import Document

from .documents import AnyRecord, Article, Box, Section, ServiceItem, TableRow, Task, indicator_line

MAX_CHARS = 320  # ~140 tokens of Chinese for e5's tokenizer, far under its 512 window
SCHEMA_VERSION = 3  # 3: exact-width HNSW search (store.py)


def _path(parts: Iterable[str]) -> str:
    return " › ".join(p for p in parts if p)


def split_sentences(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Pieces of at most ``limit`` characters, cut only after 。！？； (never mid-sentence)."""
    if len(text) <= limit:
        return [text]
    sentences = [s for s in re.split(r"(?<=[。！？；])", text) if s]
    pieces, cur = [], ""
    for s in sentences:
        if cur and len(cur) + len(s) > limit:
            pieces.append(cur)
            cur = ""
        cur += s
    if cur:
        pieces.append(cur)
    return pieces


def _doc(rec: AnyRecord, n: int, heading: str, body: str, **extra) -> Document:
    meta = {
        "citation_id": rec.id,
        "kind": rec.kind,
        "title": rec.title,
        "domain": rec.domain or "",
        "section_path": _path(rec.path[1:]),
        "item_number": getattr(rec, "number", -1) if rec.kind in {"item", "task"} else -1,
        "chunk_index": n,
        "plan": rec.plan,
        "heading": heading,
    }
    meta.update(extra)
    return Document(id=f"{rec.id}#{n}", page_content=f"{heading}\n{body}", metadata=meta)


def record_chunks(rec: AnyRecord) -> list[Document]:
    if isinstance(rec, ServiceItem):
        body = "\n".join(f"{k}：{v}" for k, v in rec.fields()[2:])
        return [_doc(rec, 0, _path(rec.path[1:]), body)]
    if isinstance(rec, Task):
        return [_doc(rec, 0, _path(rec.path[1:]), f"重点任务：{rec.task}\n责任单位：{rec.units}")]
    if isinstance(rec, Box):
        return _box_chunks(rec)
    if isinstance(rec, Article):
        return _article_chunks(rec)
    if isinstance(rec, TableRow):
        head = _path([*rec.path[1:], rec.title])
        return [_doc(rec, 0, head, "\n".join(f"{k}：{v}" for k, v in rec.fields()))]
    return _section_chunks(rec)


def _article_chunks(art: Article) -> list[Document]:
    """第N条 with its heading path; a long article in sentence-bounded pieces, each labelled."""
    parts = art.path[1:]
    head = _path(parts if parts and parts[-1] == art.label else [*parts, art.label])
    docs: list[Document] = []
    for piece in split_sentences("\n".join(art.paragraphs) or art.title):
        docs.append(_doc(art, len(docs), head, piece))
    return docs


def _box_chunks(box: Box) -> list[Document]:
    head = f"专栏{box.number} {box.title}"
    docs: list[Document] = []
    for ind in box.indicators:
        docs.append(
            _doc(
                box,
                len(docs),
                _path([head, ind.domain, ind.name]),
                indicator_line(ind),
                field="指标",
            )
        )
    for d in box.directory:
        body = f"{d.domain}：{d.items}（{d.count}项）" if d.count else d.domain
        docs.append(_doc(box, len(docs), _path([head, d.domain]), body))
    for row in box.rows:
        for piece in split_sentences(row.text):
            docs.append(_doc(box, len(docs), _path([head, row.name]), f"{row.name}：{piece}"))
    if not docs:  # a box without rows still answers to its title
        docs.append(_doc(box, 0, head, box.title))
    return docs


def _section_chunks(sec: Section) -> list[Document]:
    head = _path(sec.path[1:])
    docs: list[Document] = []
    if sec.key == "序言":
        # the notice is many short lines (文号, date, addressees): keep them together
        buf = ""
        for p in sec.paragraphs:
            if buf and len(buf) + len(p.text) > MAX_CHARS:
                docs.append(_doc(sec, len(docs), head, buf))
                buf = ""
            buf = f"{buf}\n{p.text}" if buf else p.text
        if buf:
            docs.append(_doc(sec, len(docs), head, buf))
        return docs
    for p in sec.paragraphs:
        heading = _path([head, p.title]) if p.title and p.title != sec.title else head
        for piece in split_sentences(p.text):
            docs.append(_doc(sec, len(docs), heading, piece, paragraph=p.title or ""))
    if not docs:  # a heading with no text of its own (三、各领域重点任务)
        docs.append(
            _doc(sec, 0, head, f"{sec.key}、{sec.title}" if len(sec.key) == 1 else sec.title)
        )
    return docs


# a record's chunks, kept while the record lives: the index check, the add and every reload
# of the in-memory index (PlanIndex) ask for the same records' chunks again (32,500 of them in
# a library of 100 seed-sized documents: ~1 s to build each time)
_BUILT: dict[int, list[Document]] = {}


def _chunks_of(rec: AnyRecord) -> list[Document]:
    key = id(rec)
    docs = _BUILT.get(key)
    if docs is None:
        docs = record_chunks(rec)
        _BUILT[key] = docs
        # forgotten when the record goes (before its id can be reused)
        weakref.finalize(rec, _BUILT.pop, key, None)
    return docs


def build_chunks(records: Iterable[AnyRecord]) -> list[Document]:
    docs = [d for r in records for d in _chunks_of(r)]
    ids = [d.id for d in docs]
    assert len(ids) == len(set(ids)), "chunk IDs must be unique"
    return docs


def chunks_hash(chunks: list[Document]) -> str:
    """What a document's stored part is made of: chunk IDs, texts and metadata."""
    h = hashlib.sha256()
    for d in chunks:
        h.update(json.dumps([d.id, d.page_content, d.metadata], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def digest(records: Iterable[AnyRecord]) -> dict:
    """A document's entry in the index manifest: its chunks' hash and count."""
    docs = build_chunks(records)
    return {"hash": chunks_hash(docs), "chunks": len(docs)}


def text_hash(text: str) -> str:
    """A chunk text's key in the store's metadata: vectors are found by it and re-used."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]
