"""Answers: the Answer model and the extractive composer (the default; no LLM needed).

The composer quotes the plan, never paraphrases it: it picks the record the retriever ranked
first, the field the question's intent asks for (服务指导标准 for an amount, 服务对象 for who,
支出责任 for who pays, 牵头负责单位 for which unit), and within it the clauses the user's own
words point at. Every claim carries its readable citation; weak evidence is declined.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .answer.compose import Composer
from .answer.render import Composition, cite

__all__ = ["Answer", "Composer", "Composition", "Source", "cite"]


class Source(BaseModel):
    id: str
    title: str
    readable: str
    kind: str
    text: str = Field(description="the whole record, for a source card")
    snippet: str = Field("", description="the passage that matched best")
    score: float = 0.0
    evidence: float = 0.0
    via: str = ""


class Answer(BaseModel):
    question: str
    text: str = Field(description="Markdown, Chinese")
    citations: list[str] = Field(default_factory=list, description="IDs in order of use")
    sources: list[Source] = Field(default_factory=list)
    answered: bool
    mode: Literal["extractive", "llm"] = "extractive"
    reason: str | None = Field(None, description="why the assistant declined, when it did")
    notices: list[str] = Field(default_factory=list)
    degraded: bool = False
    timings: dict[str, float] = Field(default_factory=dict)
