"""What a question about a service item asks for: 服务对象 (who), 服务指导标准 (what, how much),
支出责任 (who pays), 牵头负责单位 (which unit), or something else. A multinomial logistic model
over the question's character n-grams, fitted on the training questions (`policyqa train`): it
learns 掏钱, 哪一级出, 支出, 谁管, 够不够格 from data instead of a typed list.

Inference re-implements the fitted TfidfVectorizer(analyzer="char", ngram_range=(1, 3),
binary=True) by hand (a test proves equal probabilities), so answering needs no scikit-learn."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

logger = logging.getLogger(__name__)
PARAMS = Path(__file__).with_name("attribute_params.json")
FIELDS = ("服务对象", "服务指导标准", "支出责任", "牵头负责单位")
OTHER = "其他"
NGRAMS = (1, 3)


def char_ngrams(text: str) -> set[str]:
    text = text.lower()
    lo, hi = NGRAMS
    return {text[i : i + n] for n in range(lo, hi + 1) for i in range(len(text) - n + 1)}


class AttributeModel:
    def __init__(self, classes: list[str], intercept: list[float], vocab: dict[str, list[float]]):
        self.classes = classes
        self.intercept = intercept
        self.vocab = vocab  # n-gram -> [idf, coef per class]

    @classmethod
    def load(cls, path: Path = PARAMS) -> AttributeModel | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(raw["classes"], raw["intercept"], raw["vocab"])
        except (OSError, ValueError, KeyError) as e:
            logger.warning("asked-attribute model unavailable (%s): question words used", e)
            return None

    def probabilities(self, question: str) -> dict[str, float]:
        grams = [self.vocab[g] for g in char_ngrams(question) if g in self.vocab]
        norm = math.sqrt(sum(v[0] * v[0] for v in grams)) or 1.0
        scores = list(self.intercept)
        for v in grams:
            w = v[0] / norm
            for k in range(len(scores)):
                scores[k] += w * v[1 + k]
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return {c: e / total for c, e in zip(self.classes, exp, strict=True)}

    def predict(self, question: str) -> tuple[str, float]:
        probs = self.probabilities(question)
        best = max(probs, key=probs.get)
        return best, probs[best]
