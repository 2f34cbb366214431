"""A learned re-ranker for the first candidates of hybrid retrieval. Hand-set fusion weights
cannot tell a story's side detail (低保户) from its ask (火化); a logistic model over a few
signals per candidate (BM25 of the whole question and of its ask, cosine similarity, word
coverage, record kind against the kind of ask, the record's name in the question) learns that
from the training questions (`policyqa train`). Inference is a dot product per candidate."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .answer.features import record_cover
from .neighbours import Votes

logger = logging.getLogger(__name__)
PARAMS = Path(__file__).with_name("rerank_params.json")
TOP = 10  # candidates re-ranked; the rest keep their order after them
KINDS = ("item", "section", "box", "task")
NAMES = [
    "fused_rel", "inv_rank", "bm25_rel", "ask_rel", "dense", "dense_gap", "lexical", "cover",
    "name", *(f"kind_{k}" for k in KINDS),
    "item_x_field", "box_x_indicator", "task_x_task", "section_x_none", "item_x_services",
    "followup_prior", "knn_vote", "bias",
]  # fmt: skip


@dataclass
class Signals:
    """Per-chunk scores of one search, for the re-ranker."""

    bm25: dict[int, float] = field(default_factory=dict)
    ask: dict[int, float] = field(default_factory=dict)
    question_tokens: list[str] = field(default_factory=list)
    votes: Votes = field(default_factory=Votes.none)


def _best(scores: dict[int, float], positions: list[int]) -> float:
    return max((scores.get(p, 0.0) for p in positions), default=0.0)


def candidate_features(index, question: str, hits, intent, signals: Signals) -> np.ndarray:
    top = hits[:TOP]
    if not top:
        return np.zeros((0, len(NAMES)), dtype=np.float32)
    fused_max = max(h.score for h in top) or 1.0
    bm25_max = max(signals.bm25.values(), default=0.0) or 1.0
    ask_max = max(signals.ask.values(), default=0.0) or 1.0
    dense_max = max(h.dense for h in top)
    qtok = set(signals.question_tokens)
    field_q = intent.field_question
    rows = []
    for rank, h in enumerate(top):
        pos = [index.chunk_pos[c] for c in h.chunk_ids if c in index.chunk_pos]
        rec = index.records[h.id]
        name_tokens = [t for t in index.tokenizer.tokens(rec.title) if len(t) >= 2]
        name = sum(t in qtok for t in name_tokens) / len(name_tokens) if name_tokens else 0.0
        kind = {k: float(h.kind == k) for k in KINDS}
        rows.append(
            [
                h.score / fused_max,
                1.0 / (rank + 1),
                _best(signals.bm25, pos) / bm25_max,
                _best(signals.ask, pos) / ask_max if signals.ask else 0.0,
                h.dense,
                h.dense - dense_max,
                h.lexical,
                record_cover(index, question, h.id)[0],
                name,
                *kind.values(),
                kind["item"] * float(field_q),
                kind["box"] * float("indicator" in intent.kinds),
                kind["task"] * float("task" in intent.kinds),
                kind["section"] * float(not field_q and not intent.kinds),
                kind["item"] * float("services" in intent.kinds),
                float(h.via == "followup"),
                signals.votes.records.get(h.id, 0.0),
                1.0,
            ]
        )
    return np.asarray(rows, dtype=np.float32)


class Reranker:
    def __init__(self, mean, scale, coef, intercept):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = float(intercept)

    @classmethod
    def load(cls, path: Path = PARAMS) -> Reranker | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw["features"] != NAMES:
                raise ValueError("parameters were fitted for other features: run policyqa train")
            m = raw["model"]
            return cls(m["mean"], m["scale"], m["coef"], m["intercept"])
        except (OSError, ValueError, KeyError) as e:
            logger.warning("re-ranker unavailable (%s): fused order kept", e)
            return None

    def scores(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def rerank(self, index, question: str, hits, intent, signals: Signals):
        if len(hits) < 2:
            return hits
        x = candidate_features(index, question, hits, intent, signals)
        order = np.argsort(-self.scores(x), kind="stable")
        top = [hits[i] for i in order]
        for j, h in enumerate(top):  # scores stay ordered for what follows (promotions)
            h.score = float(len(top) - j)
        return top + hits[TOP:]
