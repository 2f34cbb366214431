"""Why a file cannot be taken in: one exception class per reason, each with a Chinese message."""

from __future__ import annotations


class IngestError(ValueError):
    """A file that cannot become records. ``message`` is for the person who gave the file."""

    def __init__(self, message: str, *, file: str = ""):
        self.message = message
        self.file = file
        super().__init__(f"{file}：{message}" if file else message)


class UnsupportedFormatError(IngestError):
    """Not a .txt, .md, .docx or .pdf file (or not what its name says)."""


class EmptyDocumentError(IngestError):
    """No bytes, or no text once read."""


class EncryptedDocumentError(IngestError):
    """Needs a password to open."""


class NoTextLayerError(IngestError):
    """A PDF whose pages hold no text: scanned images, for example."""


class FileTooLargeError(IngestError):
    """Over the configured size or page limit."""


class DamagedFileError(IngestError):
    """The file's own format is broken (a truncated PDF, a .docx that is not a zip)."""


class StructureError(IngestError):
    """The text reads, but its structure contradicts itself (a row outside its table, an ID twice)."""
