"""Choosing words and clauses: how much of the question's words a text holds (IDF-weighted,
the conversation's words at half weight) and the clauses of a field or passage that answer."""

from __future__ import annotations

import re

from .asks import (
    DISTRIBUTIVE,
    HAS_FIGURE,
)


class TextSelection:
    """Text measures and clause selection, mixed into the Composer (needs ``self.index`` and
    ``self._context``)."""

    def _best_clause(self, text: str, focus: list[str]) -> float:
        pieces = [p for p in re.split(r"(?<=[。；！？\n])", text) if p.strip()]
        return max((self._overlap(focus, p) for p in pieces), default=0.0)

    def _overlap_chunk(self, words: list[str], chunk_id: str) -> bool:
        pos = self.index.chunk_pos.get(chunk_id)
        return pos is not None and self.index.coverage(words, pos) > 0

    def _words(self, text: str) -> list[str]:
        return self.index.content_tokens(self.index.tokenizer.tokens(self.index.expand(text)[0]))

    def _weights(self, text: str) -> dict[str, float]:
        """The text's subject words with their IDF, distributive words ("分别", "各") left out."""
        return {
            t: self.index.idf.get(t, 1.0)
            for t in self._words(text)
            if t in self.index.vocab and not DISTRIBUTIVE.fullmatch(t) and t != "各"
        }

    def _idf_sum(self, words, have: set[str]) -> float:
        return sum(self.index.idf.get(t, 1.0) for t in words if t in have)

    def _own_overlap(self, words: list[str], text: str) -> float:
        return self._idf_sum(set(words), set(self.index.tokenizer.tokens(text)))

    def _overlap(self, focus: list[str], text: str) -> float:
        have = set(self.index.tokenizer.tokens(text))
        own = set(focus)
        # words of the earlier turn help choose, at half weight ("2020年呢？" after an indicator)
        return self._idf_sum(own, have) + 0.5 * self._idf_sum(set(self._context) - own, have)

    def _select(
        self,
        text: str,
        focus: list[str],
        limit: int,
        prefer_figures: bool = False,
        min_overlap: float = 0,
    ) -> str:
        """The clauses of ``text`` the focus words point at, in document order, within ``limit``."""
        text = text.strip()
        if len(text) <= limit and not min_overlap:
            return text
        pieces = [p for p in re.split(r"(?<=[。；！？\n])", text) if p.strip()]
        # a lead phrase ("指导思想。") is a heading, not an answer
        lead = [
            p
            for p in pieces
            if len(p.strip()) <= 14 and p.strip().endswith("。") and not HAS_FIGURE.search(p)
        ]
        if len(pieces) > len(lead):
            pieces = [p for p in pieces if p not in lead]
        scored = []
        for i, p in enumerate(pieces):
            s = self._overlap(focus, p)
            if prefer_figures and HAS_FIGURE.search(p):
                s += 1.0
            scored.append((s, i, p.strip()))
        best = sorted(scored, key=lambda x: (-x[0], x[1]))
        if min_overlap and (not best or best[0][0] < min_overlap):
            return ""
        keep, size = [], 0
        for s, i, p in best:
            if keep and (s <= 0 or size + len(p) > limit):
                continue
            keep.append((i, p))
            size += len(p)
        keep.sort()
        out = "".join(p for _, p in keep)
        return out if len(out) <= limit * 1.5 else out[: int(limit * 1.5)] + "…"


def opening(text: str, limit: int = 40) -> str:
    """A row's text up to its first full stop or semicolon, cut at the limit with an ellipsis."""
    head = re.split(r"(?<=[。；])", text, maxsplit=1)[0]
    return head if len(head) <= limit else head[:limit] + "……"
