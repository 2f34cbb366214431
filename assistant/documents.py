"""The corpus's plans as typed, citable records: sections, boxes (专栏), service items, tasks."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import pickle
import re
import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field

# The records and their parsing live in assistant/ingest (formats → structure → records); this
# module keeps the names the rest of the product imports and loads the corpus's plans.
from .ingest import formats as _formats
from .ingest import parse as _parse
from .ingest.cleaning import cjk_only, clean_text
from .ingest.records import (
    LOCAL_ID_PATTERN,
    AnyRecord,
    Article,
    Box,
    BoxRow,
    DirectoryRow,
    Indicator,
    ItemRow,
    Paragraph,
    Record,
    Section,
    ServiceItem,
    TableRow,
    Task,
    document_name,
    indicator_line,
    readable_citation,
    section_id,
)

logger = logging.getLogger(__name__)

CN_NUM = "一二三四五六七八九十"
DOMAINS = (
    "基本公共教育",
    "基本劳动就业创业",
    "基本社会保险",
    "基本医疗卫生",
    "基本社会服务",
    "基本住房保障",
    "基本公共文化体育",
    "基本公共安全",
    "基本公共法律服务",
    "残疾人基本公共服务",
)
TOP_SECTION_TITLES = {"一": "规划背景", "二": "总体要求", "三": "各领域重点任务", "四": "保障措施"}

__all__ = [
    "CN_NUM",
    "DOMAINS",
    "ID_PATTERN",
    "AnyRecord",
    "Article",
    "Box",
    "BoxRow",
    "DirectoryRow",
    "Indicator",
    "ItemRow",
    "Paragraph",
    "Plan",
    "PlanMeta",
    "Record",
    "Section",
    "ServiceItem",
    "TableRow",
    "Task",
    "all_plans",
    "all_records",
    "cjk_only",
    "clean_text",
    "corpus_hash",
    "indicator_line",
    "library_plans",
    "load_document",
    "load_plans",
    "parse_plan",
    "readable_citation",
    "section_id",
    "valid_citation_id",
]


class PlanMeta(BaseModel):
    id: str
    text: str
    title: str
    doc_number: str
    issued: str
    period: str
    issuer: str
    source: str = ""
    format: str = "txt"
    added: str = Field("", description="ISO time it was added to the library; '' for the seed")
    original_name: str = ""


class Plan(BaseModel):
    meta: PlanMeta
    records: list[AnyRecord]
    removed_noise: list[str] = Field(default_factory=list)
    sha256: str
    digest: dict = Field(
        default_factory=dict,
        description="its chunks' hash and count as the index manifest keeps them "
        "(chunks.digest); {} until computed, kept in the library's parsed copy",
    )

    def by_id(self) -> dict[str, AnyRecord]:
        return {r.id: r for r in self.records}

    def of_kind(self, kind: str) -> list[AnyRecord]:
        return [r for r in self.records if r.kind == kind]


# the citation IDs of the seed plan (EVAL_FORMAT.md); other documents' IDs: ingest.records
ID_PATTERN = re.compile(
    rf"^(清单-(100|[1-9]\d?)|分工-(2[0-8]|1\d|[1-9])|专栏-(1[0-2]|[1-9])|章节-序言|章节-[{CN_NUM}]+(（[{CN_NUM}]+）)?)$"
)
# a document id: what `policyqa add --id` accepts and what stands before the colon of DOC:LOCAL
DOC_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,62}[a-z0-9]$")
DEFAULT_DOCUMENT = "jinan-2018-5"


def valid_citation_id(cid: str) -> bool:
    """A bare local ID of the default plan, or ``DOC:LOCAL`` of any document (EVAL_FORMAT.md)."""
    doc, sep, local = cid.partition(":")
    if not sep:
        return bool(ID_PATTERN.match(cid))
    return bool(DOC_ID_PATTERN.match(doc) and LOCAL_ID_PATTERN.match(local))


def bare_id(cid: str, default: str = DEFAULT_DOCUMENT) -> str:
    """``jinan-2018-5:清单-56`` → ``清单-56`` (the default document's IDs are kept bare)."""
    doc, sep, local = cid.partition(":")
    return local if sep and doc == default else cid


def parse_plan(raw: str, meta: PlanMeta) -> Plan:
    """A plan's text (as the corpus keeps it) through the general parser, cover facts from ``meta``."""
    doc = _parse(_formats.read_text(raw), overrides=meta.model_dump(), domains=DOMAINS)
    # the order the index and its BM25 were first built in: service items after everything else
    records = [r for r in doc.records if not isinstance(r, ServiceItem)]
    records += [r for r in doc.records if isinstance(r, ServiceItem)]
    return Plan(
        meta=meta,
        records=records,
        removed_noise=doc.removed_noise,
        sha256=hashlib.sha256(raw.encode()).hexdigest(),
    )


# ---------------------------------------------------------------- loading


def iter_plan_files(corpus_dir: Path) -> Iterable[tuple[Path, PlanMeta]]:
    for meta_file in sorted(corpus_dir.glob("*.toml")):
        data = tomllib.loads(meta_file.read_text(encoding="utf-8"))
        if "text" not in data:
            continue  # not a plan description (aliases, say)
        yield meta_file.parent / data["text"], PlanMeta(**data)


@cache
def load_plans(corpus_dir: Path) -> tuple[Plan, ...]:
    plans = []
    for text_file, meta in iter_plan_files(corpus_dir):
        plans.append(parse_plan(text_file.read_text(encoding="utf-8"), meta))
        logger.info("parsed %s: %d records", meta.id, len(plans[-1].records))
    if not plans:
        raise FileNotFoundError(f"no plan (*.toml with a text file) in {corpus_dir}")
    seen: set[str] = set()
    for p in plans:
        dup = seen & {r.id for r in p.records}
        if dup:
            raise ValueError(f"citation IDs used by two plans: {sorted(dup)[:5]}")
        seen |= {r.id for r in p.records}
    return tuple(plans)


# ---------------------------------------------------------------- the library (added documents)

LIBRARY_MANIFEST = "library.json"


def read_library_manifest(library_dir: Path | None) -> list[dict]:
    """The added documents in the order they were added: [{"id", "file", "sha256"}]; [] if none."""
    if library_dir is None:
        return []
    path = Path(library_dir) / LIBRARY_MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))["documents"]
    except FileNotFoundError:
        return []


def load_document(path: Path, *, limits=None, overrides: dict | None = None) -> Plan:
    """A policy file (.txt/.md/.docx/.pdf, with an optional .toml beside it) as a Plan whose
    record IDs carry the document: ``DOC:LOCAL``. Raises ``IngestError`` with a Chinese message."""
    from .ingest import read_document

    parsed = read_document(Path(path), limits=limits, overrides=overrides)
    facts = parsed.meta.model_dump() | {"format": parsed.format, "text": Path(path).name}
    extra = read_overrides_extra(Path(path))
    meta = PlanMeta(**{k: v for k, v in (extra | facts).items() if k in PlanMeta.model_fields})
    name = document_name(meta.title, meta.issuer, meta.doc_number)
    records = [
        r.model_copy(update={"id": f"{meta.id}:{r.id}", "plan": meta.id, "document": name})
        for r in parsed.records
    ]
    return Plan(
        meta=meta, records=records, removed_noise=parsed.removed_noise, sha256=parsed.sha256
    )


def read_overrides_extra(path: Path) -> dict:
    """What the library's .toml keeps besides cover facts: added, original_name."""
    from .ingest import read_overrides

    data = read_overrides(path)
    return {k: str(data[k]) for k in ("added", "original_name") if k in data}


PARSED_DIR = ".parsed"


@cache
def _library_plan(path: str, stamp: tuple) -> Plan:
    """Parsed once per file version: in this process (memory) and across processes (a copy in
    ``.parsed/`` beside it, keyed by the file's and .toml's size and time and by the source of
    the parser and the chunker, so a changed file or parser parses again). The copy holds the
    records with their document name and the chunks' digest the index check compares: opening
    an unchanged library of 100 seed-sized documents reads them in ~0.2 s, where validating
    JSON copies took ~1.4 s and building and hashing their 32,500 chunks ~1.9 s.

    The copy is a pickle: generated by this program into its own library folder, which only
    it writes (as Chroma pickles its own index metadata in ``index/``); an unreadable copy is
    parsed again."""
    src = Path(path)
    key = hashlib.sha256(repr((stamp, _parser_version())).encode()).hexdigest()[:16]
    cached = src.parent / PARSED_DIR / f"{src.stem}-{key}.pkl"
    try:
        plan = pickle.loads(cached.read_bytes())
        if isinstance(plan, Plan) and plan.digest:
            return plan
    except FileNotFoundError:
        pass
    except Exception as e:  # damaged or from an incompatible version: parse again
        logger.warning("library: parsed copy %s unreadable (%s), parsing again", cached.name, e)
    from .chunks import digest  # chunks builds on these records: imported when first needed

    plan = load_document(src)
    plan.digest = digest(plan.records)
    with contextlib.suppress(OSError):
        cached.parent.mkdir(exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(cached)
        for old in parsed_copies(src):  # earlier versions of this file: never read again
            if old != cached:
                old.unlink(missing_ok=True)
    return plan


def parsed_copies(stored: Path) -> list[Path]:
    """The parsed copies of a library file (``<stem>-<key>.pkl``, or .json of earlier
    versions), not those of another file whose name starts the same (``a`` and ``a-b``)."""
    pattern = re.compile(rf"{re.escape(stored.stem)}-[0-9a-f]{{16}}\.(pkl|json)")
    folder = stored.parent / PARSED_DIR
    if not folder.is_dir():
        return []
    return [f for f in folder.iterdir() if pattern.fullmatch(f.name)]


@cache
def _parser_version() -> str:
    h = hashlib.sha256()
    here = Path(__file__).parent
    sources = [here / "documents.py", here / "chunks.py", *sorted((here / "ingest").glob("*.py"))]
    for f in sources:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _stamp(path: Path) -> tuple:
    toml = path.with_suffix(".toml")
    st = path.stat()
    ts = toml.stat() if toml.exists() else None
    return (st.st_mtime_ns, st.st_size, ts and ts.st_mtime_ns, ts and ts.st_size)


def library_plan(path: Path) -> Plan:
    """One library file, parsed (from its parsed copy when the file is unchanged)."""
    return _library_plan(str(path), _stamp(path))


def library_plans(library_dir: Path | None) -> tuple[Plan, ...]:
    """The added documents, parsed (once per file version in a process)."""
    from .ingest import IngestError

    out = []
    # the records live as long as the process: the cyclic collector, run every few hundred new
    # objects, would walk them again and again while they load (half the time of 100 documents)
    collecting = gc.isenabled()
    gc.disable()
    try:
        for entry in read_library_manifest(library_dir):
            path = Path(library_dir) / entry["file"]
            try:
                out.append(library_plan(path))
            except (OSError, IngestError) as e:  # one broken file does not stop the others
                logger.error("library: %s cannot be read and is left out: %s", path.name, e)
    finally:
        if collecting:
            gc.enable()
    return tuple(out)


def all_plans(corpus_dir: Path, library_dir: Path | None = None) -> tuple[Plan, ...]:
    """The seed plan(s) of the corpus first, then the library's documents in the order added."""
    return load_plans(corpus_dir) + library_plans(library_dir)


def all_records(corpus_dir: Path, library_dir: Path | None = None) -> list[AnyRecord]:
    return [r for p in all_plans(corpus_dir, library_dir) for r in p.records]


def corpus_hash(corpus_dir: Path) -> str:
    """Hash of what the stored chunks are made from: the plans (aliases only touch queries)."""
    h = hashlib.sha256()
    for text_file, meta in iter_plan_files(corpus_dir):
        # the cover facts as they were before the library's fields (format, added,
        # original_name) existed: an index built then is still recognised (store._migrate)
        h.update(meta.model_dump_json(exclude={"format", "added", "original_name"}).encode())
        h.update(text_file.read_bytes())
    return h.hexdigest()[:16]
