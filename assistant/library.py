"""The library: the documents the assistant answers from, and adding or removing them at run time.

The seed plan lives in ``corpus/`` (its text and .toml, in git) and is the default document: its
citation IDs stay bare (``清单-56``) and it cannot be removed at run time. Documents added later
live in the library directory (``settings.library_path``: ``POLICYQA_LIBRARY_DIR``, default
``library/`` beside the index, git-ignored): each is its original file, stored as ``<id>.<ext>``,
and ``<id>.toml`` with its cover facts (editable: they override what the text says), and
``library.json`` lists them in the order added. That list is the truth: a file not in it is not
part of the library, and the index follows it (store.ensure_index).

Adding and removing are atomic: the file is read and parsed before anything is written; the
index is changed under the index lock; the list is replaced in one rename at the end; on any
failure everything written so far is undone. ``version`` changes whenever the list changes, and
every process that answers compares it before its next answer (Service.refresh).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from pydantic import BaseModel

from .documents import (
    DEFAULT_DOCUMENT,
    DOC_ID_PATTERN,
    LIBRARY_MANIFEST,
    Plan,
    all_plans,
    library_plan,
    load_document,
    load_plans,
    parsed_copies,
    read_library_manifest,
)
from .ingest import IngestError
from .settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["DocumentInfo", "IngestError", "Library", "LibraryError"]


class DocumentInfo(BaseModel):
    id: str
    title: str
    doc_number: str
    issued: str
    period: str
    issuer: str
    format: str
    records: int
    sha256: str
    added: str  # ISO time; "" for the seed
    default: bool  # the seed plan (jinan-2018-5) is the default document
    removable: bool  # the seed from corpus/ is not removable at run time


class LibraryError(Exception):
    """A library operation refused; ``message`` is a polite Chinese sentence for the user."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def _info(plan: Plan, *, seed: bool, default: str = DEFAULT_DOCUMENT) -> DocumentInfo:
    m = plan.meta
    return DocumentInfo(
        id=m.id,
        title=m.title,
        doc_number=m.doc_number,
        issued=m.issued,
        period=m.period,
        issuer=m.issuer,
        format=m.format,
        records=len(plan.records),
        sha256=plan.sha256,
        added="" if seed else m.added,
        default=m.id == default,
        removable=not seed,
    )


def _toml_value(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string


class Library:
    def __init__(self, settings: Settings, embeddings=None):
        self.settings = settings
        self.dir = settings.library_path
        self._embeddings = embeddings

    # -- reading

    @property
    def manifest(self) -> Path:
        return self.dir / LIBRARY_MANIFEST

    def plans(self) -> tuple[Plan, ...]:
        return all_plans(self.settings.corpus_dir, self.dir)

    def records(self) -> list:
        return [r for p in self.plans() for r in p.records]

    def list(self) -> list[DocumentInfo]:
        """The default document first, then the newest issued first."""
        seeds = load_plans(self.settings.corpus_dir)
        seed = {p.meta.id for p in seeds}
        default = seeds[0].meta.id  # the corpus's plan (jinan-2018-5 here)
        infos = [_info(p, seed=p.meta.id in seed, default=default) for p in self.plans()]
        infos.sort(key=lambda d: d.added or d.issued, reverse=True)
        infos.sort(key=lambda d: d.issued, reverse=True)
        infos.sort(key=lambda d: not d.default)
        return infos

    def get(self, doc_id: str) -> DocumentInfo | None:
        return next((d for d in self.list() if d.id == doc_id), None)

    @property
    def version(self) -> str:
        """Changes whenever the set of documents changes (reads one small file)."""
        try:
            raw = self.manifest.read_bytes()
        except FileNotFoundError:
            raw = b""
        return hashlib.sha256(raw).hexdigest()[:16]

    def stamp(self) -> tuple:
        """A cheaper check than ``version``: the list file's identity (replaced on each change)."""
        try:
            st = os.stat(self.manifest)
        except FileNotFoundError:
            return ()
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    # -- changing

    def add(
        self,
        path: Path,
        *,
        doc_id: str | None = None,
        title: str | None = None,
        issued: str | None = None,
        original_name: str | None = None,
    ) -> DocumentInfo:
        """Read, check and index one document; raises IngestError or LibraryError and then
        leaves the library and the index exactly as before."""
        path = Path(path)
        if not path.is_file():
            raise LibraryError(f"找不到文件：{path.name}。")
        if issued is not None and issued and not _iso_date(issued):
            raise LibraryError(f"发布日期“{issued}”格式不对，请写成 2021-06-30 这样的日期。")
        name = original_name or path.name
        overrides = {"title": title, "issued": issued}
        if doc_id is not None:
            overrides["id"] = doc_id
        else:
            overrides["id"] = _slug(Path(name).stem)
        plan = load_document(path, limits=self.settings.ingest_limits, overrides=overrides)
        did = plan.meta.id
        if not DOC_ID_PATTERN.match(did):
            raise LibraryError(
                f"文件编号“{did}”不可用：请用 2–64 个小写字母、数字或连字符（例如 jinan-2021-12），"
                "用 --id 指定。"
            )
        if not plan.records:
            raise LibraryError(f"{name} 中没有找到可以引用的内容。")
        ext = path.suffix.lower()
        with self._lock():
            if any(p.meta.id == did for p in self.plans()):
                raise LibraryError(f"文件库中已有编号为“{did}”的文件；如要替换，请先删除它。")
            same = [p for p in self.plans() if p.sha256 == plan.sha256]
            if same:
                raise LibraryError(f"这个文件已经在文件库中（编号“{same[0].meta.id}”）。")
            added = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            meta = plan.meta.model_copy(update={"added": added, "original_name": name})
            self.dir.mkdir(parents=True, exist_ok=True)
            stored = self.dir / f"{did}{ext}"
            toml = stored.with_suffix(".toml")
            written: list[Path] = []
            try:
                shutil.copyfile(path, stored)
                written.append(stored)
                toml.write_text(self._toml(meta), encoding="utf-8")
                written.append(toml)
                # parse the stored copy: what the library holds is what was indexed; its
                # parsed copy is written now, so the reload after the add does not parse again
                plan = library_plan(stored)
                self._index(plan)
                entries = read_library_manifest(self.dir)
                entries.append({"id": did, "file": stored.name, "sha256": plan.sha256})
                self._write_manifest(entries)
            except BaseException:
                self._unindex(did)
                for f in [*written, *parsed_copies(stored)]:
                    f.unlink(missing_ok=True)
                raise
        logger.info("library: added %s (%d records)", did, len(plan.records))
        return _info(plan, seed=False)

    def remove(self, doc_id: str) -> DocumentInfo:
        with self._lock():
            seed = {p.meta.id for p in load_plans(self.settings.corpus_dir)}
            if doc_id in seed:
                raise LibraryError(f"“{doc_id}”是内置的默认文件，不能在运行时删除。")
            entries = read_library_manifest(self.dir)
            entry = next((e for e in entries if e["id"] == doc_id), None)
            if entry is None:
                raise LibraryError(f"文件库中没有编号为“{doc_id}”的文件。")
            plan = next(p for p in self.plans() if p.meta.id == doc_id)
            info = _info(plan, seed=False)
            self._write_manifest([e for e in entries if e["id"] != doc_id])
            try:
                self._unindex(doc_id, strict=True)
            except BaseException:
                self._write_manifest(entries)
                raise
            stored = self.dir / entry["file"]
            for f in (stored, stored.with_suffix(".toml"), *parsed_copies(stored)):
                with contextlib.suppress(OSError):
                    f.unlink()
        logger.info("library: removed %s", doc_id)
        return info

    # -- helpers

    @property
    def embeddings(self):
        if self._embeddings is None:
            from .embeddings import make_embeddings

            self._embeddings = make_embeddings(self.settings)
        return self._embeddings

    @contextlib.contextmanager
    def _lock(self):
        from .store import index_lock

        with index_lock(self.settings):
            yield

    def _index(self, plan: Plan) -> None:
        """The new document's chunks into the collection (inside the lock), then the manifest.
        Only the new document's chunks are built; the others are checked by their digests."""
        from .chunks import build_chunks
        from .store import _ensure, _open_or_reset, expected_manifest, sync_document, write_manifest

        emb = self.embeddings
        current = self.plans()
        # bring what is there up to date first (builds it when missing): embeds nothing new
        # when the index is current; then the new document alone
        cur_want = expected_manifest(self.settings, emb.model_id, emb.dimension, current)
        _ensure(self.settings, emb, current, cur_want, False, False)
        col = _open_or_reset(self.settings).get_collection(self.settings.chroma_collection)
        sync_document(col, emb, plan.meta.id, build_chunks(plan.records), added=True)
        want = expected_manifest(self.settings, emb.model_id, emb.dimension, (*current, plan))
        write_manifest(col, self.settings, want)

    def _unindex(self, doc_id: str, strict: bool = False) -> None:
        """Delete the document's chunks and write the manifest of what stays."""
        from .store import _open_or_reset, delete_document, expected_manifest, write_manifest

        try:
            col = _open_or_reset(self.settings).get_collection(self.settings.chroma_collection)
            delete_document(col, doc_id)
            emb = self.embeddings
            found = col.metadata or {}
            if found.get("policyqa_model_id") == emb.model_id:
                plans = tuple(p for p in self.plans() if p.meta.id != doc_id)
                want = expected_manifest(self.settings, emb.model_id, emb.dimension, plans)
                if col.count() == want["chunks"]:
                    write_manifest(col, self.settings, want)
        except Exception:
            if strict:
                raise
            logger.exception("library: could not delete the chunks of %s", doc_id)

    def _toml(self, meta) -> str:
        lines = ["# Added to the library by policyqa add; edit the cover facts here if needed."]
        for key in ("id", "title", "doc_number", "issued", "period", "issuer"):
            lines.append(f"{key} = {_toml_value(getattr(meta, key))}")
        lines.append(f"original_name = {_toml_value(meta.original_name)}")
        lines.append(f"added = {_toml_value(meta.added)}")
        return "\n".join(lines) + "\n"

    def _write_manifest(self, entries: list[dict]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps({"documents": entries}, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        tmp.replace(self.manifest)


def _iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _slug(stem: str) -> str:
    import re

    s = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    if len(s) < 2:
        s = "doc-" + hashlib.sha256(stem.encode()).hexdigest()[:8]
    return s[:64].strip("-")
