"""Answerable or not, decided from the evidence by small models fitted on the team's training
questions (`policyqa train`), not from whether the question's words occur in the plan.

Two fitted models live in decide_params.json: "full" and "lexical" (evidence features only: the
BM25-only mode and a degraded index, a logistic model). "full" is stacked: a logistic model reads
the question's e5 embedding with the evidence, and its log-odds join the evidence features in
boosted decision trees, which learn what a linear weight cannot: that no plan word covered *and*
neighbours that call the question unrelated together say "not in the plan", though neither does
alone. Inference is a dot product and a few hundred three-level tree walks (numpy, tens of
microseconds): no scikit-learn on the answering path."""

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

    def logit(self, x: np.ndarray) -> float:
        return float(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def probability(self, x: np.ndarray) -> float:
        return _sigmoid(self.logit(x))


def _sigmoid(z: float) -> float:
    return float(1.0 / (1.0 + np.exp(-z)))


@dataclass
class Trees:
    """Gradient-boosted regression trees on the log-odds scale, as arrays: per tree and node the
    feature, threshold, children (-1 at a leaf) and value. A sample goes left when its feature is
    at most the threshold, as scikit-learn's trees do."""

    feature: np.ndarray  # (trees, nodes) int
    threshold: np.ndarray  # (trees, nodes) float
    left: np.ndarray  # (trees, nodes) int
    right: np.ndarray  # (trees, nodes) int
    value: np.ndarray  # (trees, nodes) float
    rate: float
    bias: float

    @classmethod
    def from_dict(cls, d: dict) -> Trees:
        nodes = max(len(t["feature"]) for t in d["trees"])

        def pad(key, fill, dtype):
            return np.asarray(
                [t[key] + [fill] * (nodes - len(t[key])) for t in d["trees"]], dtype=dtype
            )

        return cls(
            feature=pad("feature", 0, np.int64),
            threshold=pad("threshold", 0.0, np.float64),
            left=pad("left", -1, np.int64),
            right=pad("right", -1, np.int64),
            value=pad("value", 0.0, np.float64),
            rate=float(d["learning_rate"]),
            bias=float(d["bias"]),
        )

    def raw(self, x: np.ndarray) -> float:
        """The summed log-odds for one feature vector: all trees walked level by level at once."""
        rows = np.arange(self.feature.shape[0])
        node = np.zeros(len(rows), dtype=np.int64)
        while True:
            left = self.left[rows, node]
            inner = left >= 0
            if not inner.any():
                break
            go_left = x[self.feature[rows, node]] <= self.threshold[rows, node]
            step = np.where(go_left, left, self.right[rows, node])
            node = np.where(inner, step, node)
        return self.bias + self.rate * float(self.value[rows, node].sum())


@dataclass
class StackedModel:
    """The linear model's log-odds (question embedding and evidence) beside the evidence features
    (the first `evidence` entries of the vector), read by boosted trees."""

    linear: LinearModel
    trees: Trees
    evidence: int
    threshold: float

    @property
    def mean(self) -> np.ndarray:  # the feature vector's expected length, as LinearModel's
        return self.linear.mean

    @classmethod
    def from_dict(cls, d: dict) -> StackedModel:
        return cls(
            linear=LinearModel.from_dict({**d["linear"], "threshold": d["threshold"]}),
            trees=Trees.from_dict(d["trees"]),
            evidence=int(d["evidence"]),
            threshold=float(d["threshold"]),
        )

    def inputs(self, x: np.ndarray) -> np.ndarray:
        # float32, as the trees were grown on (their thresholds lie between float32 values)
        return np.append(x[: self.evidence], self.linear.logit(x)).astype(np.float32)

    def probability(self, x: np.ndarray) -> float:
        return _sigmoid(self.trees.raw(self.inputs(x)))


def model_from_dict(d: dict) -> LinearModel | StackedModel:
    return StackedModel.from_dict(d) if "trees" in d else LinearModel.from_dict(d)


class Decider:
    def __init__(self, models: dict[str, LinearModel | StackedModel]):
        self.models = models

    @classmethod
    def load(cls, path: Path = PARAMS) -> Decider | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls({name: model_from_dict(m) for name, m in raw["models"].items()})
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
