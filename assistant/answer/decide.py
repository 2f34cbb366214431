"""Answerable or not, decided from the evidence by a small logistic model fitted on the team's
training questions (`policyqa train`), not from whether the question's words occur in the plan.

Two fitted models live in decide_params.json: "full" (evidence features and the question's e5
embedding) and "lexical" (evidence features only: the BM25-only mode and a degraded index).
Inference is a dot product: no scikit-learn on the answering path."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import features

logger = logging.getLogger(__name__)
PARAMS = Path(__file__).with_name("decide_params.json")


@dataclass
class LinearModel:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float

    @classmethod
    def from_dict(cls, d: dict) -> LinearModel:
        return cls(
            mean=np.asarray(d["mean"], dtype=np.float32),
            scale=np.asarray(d["scale"], dtype=np.float32),
            coef=np.asarray(d["coef"], dtype=np.float32),
            intercept=float(d["intercept"]),
            threshold=float(d["threshold"]),
        )

    def probability(self, x: np.ndarray) -> float:
        z = float(((x - self.mean) / self.scale) @ self.coef + self.intercept)
        return float(1.0 / (1.0 + np.exp(-z)))


class Decider:
    def __init__(self, models: dict[str, LinearModel]):
        self.models = models

    @classmethod
    def load(cls, path: Path = PARAMS) -> Decider | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls({name: LinearModel.from_dict(m) for name, m in raw["models"].items()})
        except (OSError, ValueError, KeyError) as e:
            logger.error("answerability model unavailable (%s): evidence threshold used", e)
            return None

    def decide(self, index, question: str, result) -> tuple[bool, float]:
        """(answerable, probability) for this question and its ranked evidence."""
        full = result.vector is not None and "full" in self.models
        model = self.models["full" if full else "lexical"]
        x = features(index, question, result, result.intent, with_vector=full)
        if x.shape[0] != model.mean.shape[0]:  # another embedding model: evidence only
            model = self.models["lexical"]
            x = features(index, question, result, result.intent, with_vector=False)
        p = model.probability(x)
        return p >= model.threshold, p
