"""The stacked answerability model's trees, evaluated by hand (assistant/answer/decide.py), decide
exactly as scikit-learn's fitted model does; and the stack trusts its evidence features where a
linear weight alone cannot (an interaction of two features)."""

from __future__ import annotations

import numpy as np

from assistant.answer.decide import StackedModel, Trees
from assistant.answer.features import LEXICAL_NAMES
from assistant.answer.train import TREES, export_trees, stacked


def _xor_data(n: int = 1200):
    """Answerable only when exactly one of two evidence features is high: no linear model on
    them separates it; trees do. As many evidence columns as the real extractor has (the rest
    zero, asks_quantity among them), then three noise columns for the embedding block."""
    rng = np.random.default_rng(7)
    a, b = rng.random(n), rng.random(n)
    y = ((a > 0.5) ^ (b > 0.5)).astype(int)
    evidence = np.zeros((n, len(LEXICAL_NAMES)))
    evidence[:, 0], evidence[:, 1] = a, b
    x = np.c_[evidence, rng.standard_normal((n, 3))].astype(np.float32)
    groups = np.arange(n) % 6  # six "writers"
    return x, y, groups


def test_hand_evaluated_trees_match_scikit_learn():
    from sklearn.ensemble import GradientBoostingClassifier

    x, y, _ = _xor_data()
    model = GradientBoostingClassifier(**TREES).fit(x, y)
    trees = Trees.from_dict(export_trees(model, x[:1]))
    hand = np.array([trees.raw(row) for row in x])
    assert np.allclose(hand, model.decision_function(x), atol=1e-5)


def test_the_stack_learns_an_interaction_a_linear_model_cannot():
    x, y, groups = _xor_data()
    evidence = len(LEXICAL_NAMES)
    p, fitted, _ = stacked(x, y, groups, c=0.01, evidence=evidence)
    accuracy = np.mean((p >= 0.5) == y)  # cross-validated, writer by writer
    assert accuracy >= 0.9
    model = StackedModel.from_dict({**fitted, "threshold": 0.5})

    def row(a: float, b: float) -> np.ndarray:
        v = np.zeros(evidence + 3, dtype=np.float32)
        v[0], v[1] = a, b
        return v

    assert model.probability(row(0.9, 0.1)) > 0.8
    assert model.probability(row(0.9, 0.9)) < 0.2
    assert 0.2 < model.linear.probability(row(0.9, 0.1)) < 0.8  # the logistic part cannot tell
