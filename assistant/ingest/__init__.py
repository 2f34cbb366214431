"""Files in, typed citable records out: formats → structure → records, one module per step.

``read_document(path)`` reads a .txt/.md/.docx/.pdf policy file, finds the structure of a Chinese
official document in it and returns its records with the document's cover facts; a .toml beside
the file (same name) overrides any cover fact (id, title, doc_number, issued, period, issuer).
Nothing is written anywhere: a file that cannot be read raises an ``IngestError`` subclass with
a Chinese message and leaves everything as it was.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import formats, records, structure
from .errors import (
    DamagedFileError,
    EmptyDocumentError,
    EncryptedDocumentError,
    FileTooLargeError,
    IngestError,
    NoTextLayerError,
    StructureError,
    UnsupportedFormatError,
)
from .formats import IngestLimits
from .records import AnyRecord, DocMeta

logger = logging.getLogger(__name__)

__all__ = [
    "DamagedFileError",
    "DocMeta",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "FileTooLargeError",
    "IngestError",
    "IngestLimits",
    "NoTextLayerError",
    "ParsedDocument",
    "StructureError",
    "UnsupportedFormatError",
    "parse",
    "read_document",
]


@dataclass
class ParsedDocument:
    meta: DocMeta
    records: list[AnyRecord]
    removed_noise: list[str]
    format: str
    sha256: str
    cover: structure.Cover  # what the text itself says, before the .toml's overrides

    def by_id(self) -> dict[str, AnyRecord]:
        return {r.id: r for r in self.records}


def parse(
    extracted: formats.Extracted,
    *,
    overrides: dict | None = None,
    default_id: str = "document",
    domains: tuple[str, ...] = (),
    sha256: str = "",
) -> ParsedDocument:
    """Text blocks to records: the structure step, the cover facts (overridden), the records step."""
    outline = structure.parse(extracted)
    meta = _meta(outline.cover, overrides or {}, default_id)
    recs = records.build(outline, meta, domains=domains)
    return ParsedDocument(meta, recs, outline.removed, extracted.format, sha256, outline.cover)


def read_document(
    path: Path,
    *,
    limits: IngestLimits | None = None,
    domains: tuple[str, ...] = (),
    overrides: dict | None = None,
) -> ParsedDocument:
    """``overrides`` (e.g. from a command line) win over the .toml beside the file, which wins
    over what the text says."""
    path = Path(path)
    extracted = formats.read_file(path, limits)
    facts = read_overrides(path) | {k: v for k, v in (overrides or {}).items() if v}
    return parse(
        extracted,
        overrides=facts,
        default_id=_slug(path.stem),
        domains=domains,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def read_overrides(path: Path) -> dict:
    """The .toml beside ``path`` (same name), as corpus/*.toml describe the seed; {} if none."""
    toml = path.with_suffix(".toml")
    if not toml.is_file():
        return {}
    try:
        return tomllib.loads(toml.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise DamagedFileError(f"说明文件 {toml.name} 格式有误：{e}", file=path.name) from e


def _meta(cover: structure.Cover, overrides: dict, default_id: str) -> DocMeta:
    facts = {
        "id": default_id,
        "title": cover.title,
        "doc_number": cover.doc_number,
        "issued": cover.issued,
        "period": cover.period,
        "issuer": cover.issuer,
    }
    facts |= {k: str(v) for k, v in overrides.items() if k in DocMeta.model_fields}
    return DocMeta(**facts)


def _slug(stem: str) -> str:
    return re.sub(r"[^\w\-]+", "-", stem).strip("-").lower() or "document"
