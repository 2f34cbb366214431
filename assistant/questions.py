"""Question sets (JSONL, EVAL_FORMAT.md): loading and validation before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .documents import DEFAULT_DOCUMENT, bare_id, valid_citation_id


class QuestionSetError(ValueError):
    """A malformed question set; the message names the line."""


class Turn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str

    @field_validator("role")
    @classmethod
    def _role(cls, v: str) -> str:
        if v not in {"user", "assistant"}:
            raise ValueError("role must be 'user' or 'assistant'")
        return v


class Question(BaseModel):
    model_config = ConfigDict(extra="ignore")  # unknown extra fields are not errors
    id: str
    question: str
    answerable: bool
    citations: list[str] = Field(default_factory=list)
    key_facts: list[str] = Field(default_factory=list)
    type: str = "unspecified"
    history: list[Turn] = Field(default_factory=list)

    def history_dicts(self) -> list[dict]:
        return [t.model_dump() for t in self.history]


def load_questions(path: Path, known_ids: set[str] | None = None) -> list[Question]:
    """Parse and check every line; the first problem raises with its line number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise QuestionSetError(f"{path}: cannot read: {e}") from e
    out: list[Question] = []
    seen: set[str] = set()
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{no}"
        try:
            q = Question.model_validate(json.loads(line))
        except json.JSONDecodeError as e:
            raise QuestionSetError(f"{where}: not valid JSON ({e.msg})") from e
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise QuestionSetError(f"{where}: field '{field}': {first['msg']}") from e
        if q.id in seen:
            raise QuestionSetError(f"{where}: duplicate id '{q.id}'")
        seen.add(q.id)
        # DOC:LOCAL or a bare LOCAL of the default document; the default's kept bare
        q.citations = [bare_id(c.strip(), DEFAULT_DOCUMENT) for c in q.citations]
        for cid in q.citations:
            if not valid_citation_id(cid) or (known_ids is not None and cid not in known_ids):
                raise QuestionSetError(f"{where}: unknown citation ID '{cid}'")
        if q.answerable and not q.citations:
            raise QuestionSetError(f"{where}: an answerable question needs citations")
        out.append(q)
    if not out:
        raise QuestionSetError(f"{path}: no questions")
    return out
