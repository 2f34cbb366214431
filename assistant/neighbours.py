"""The training questions as a nearest-neighbour memory. A citizen's wording of a need
("孩子耳朵不好使要做训练") is often far from the plan's wording (残疾人康复) but near how other
people asked for the same record; the e5 vectors of the committed training questions
(eval/train/*.jsonl) vote for the records they cite and say how often such questions were
answerable at all. The re-ranker and the answerability model weigh these votes as features,
learned like the rest (`policyqa train`), cross-validated with the asking writer's own file left
out of the memory.

The vectors are computed once per (training files, aliases, embedding model) and cached beside
the converted model; nothing is downloaded."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .answer.features import ask_kind

logger = logging.getLogger(__name__)
K = 10  # neighbours that vote
TEMPERATURE = 0.02  # e5 similarities are compressed (0.75–0.95): votes follow small gaps


@dataclass
class Votes:
    """What the nearest training questions say about one question."""

    records: dict[str, float]  # record id -> share of the neighbours' weight citing it
    answerable: float  # weighted share of answerable neighbours
    top_sim: float  # similarity of the nearest training question
    unrelated: float = 0.0  # weighted share of neighbours about nothing in the plan (公积金, 天气)
    # answerable share among the neighbours asking the same kind of thing (features.ask_kind):
    # "火化有没有减免" is answered, "火化费减免多少元" is a detail the plan does not give
    answerable_same_ask: float = 0.0

    @classmethod
    def none(cls) -> Votes:
        return cls({}, 0.0, 0.0)


class Neighbours:
    def __init__(
        self,
        matrix: np.ndarray,
        labels: list[tuple[str, ...]],
        answerable,
        files,
        unrelated=None,
        kinds=None,
    ):
        self.matrix = np.asarray(matrix, dtype=np.float32)
        self.labels = labels
        self.answerable = np.asarray(answerable, dtype=np.float32)
        self.files = np.asarray(files)
        # a trap about a real record (a false amount) looks answerable in its words; a question
        # about something the plan never covers does not: the two are told apart
        self.unrelated = np.asarray(
            unrelated if unrelated is not None else [0.0] * len(labels), dtype=np.float32
        )
        # what kind of thing each asks (answer.features.ask_kind: an amount or not, trap cues)
        self.kinds = np.asarray(kinds if kinds is not None else [0] * len(labels), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def votes(self, vector, exclude_file: str | None = None, kind: int | None = None) -> Votes:
        if vector is None or not len(self):
            return Votes.none()
        # einsum's own loop, not BLAS: a multithreaded BLAS call leaves its threads spinning,
        # and the next ONNX encoding then ran 5 ms slower on 2 cores
        sims = np.einsum("ij,j->i", self.matrix, np.asarray(vector, dtype=np.float32))
        if exclude_file is not None:  # cross-validation: the writer's own questions are unseen
            sims = np.where(self.files == exclude_file, -1.0, sims)
        top = np.argpartition(-sims, min(K, len(sims) - 1))[:K]
        top = top[np.argsort(-sims[top], kind="stable")]
        s = sims[top]
        w = np.exp((s - s[0]) / TEMPERATURE)
        w /= w.sum()
        records: dict[str, float] = {}
        for weight, i in zip(w, top, strict=True):
            for cid in self.labels[i]:
                records[cid] = records.get(cid, 0.0) + float(weight)
        answerable = float(w @ self.answerable[top])
        same = answerable
        if kind is not None:
            m = self.kinds[top] == int(kind)
            weight = float(w[m].sum())
            if weight > 1e-9:  # those of the same kind may all be far below the nearest
                same = float(w[m] @ self.answerable[top][m] / weight)
        return Votes(records, answerable, float(s[0]), float(w @ self.unrelated[top]), same)


def training_files(train_dir: Path) -> list[Path]:
    return sorted(Path(train_dir).glob("*.jsonl"))


def _rows(train_dir: Path) -> list[dict]:
    """Single-turn training questions (a follow-up's words mean little without its history)."""
    rows = []
    for path in training_files(train_dir):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            q = json.loads(line)
            if q.get("history"):
                continue
            rows.append(
                {
                    "question": q["question"],
                    "citations": tuple(q.get("citations") or ()),
                    "answerable": bool(q.get("answerable")),
                    "unrelated": not q.get("answerable") and not q.get("related"),
                    "kind": ask_kind(q["question"]),
                    "file": path.name,
                }
            )
    return rows


def cache_path(train_dir: Path, aliases: Path, cache_dir: Path, model_id: str) -> Path:
    """Where the vectors for these training files, aliases and model are cached."""
    h = hashlib.sha256(model_id.encode())
    for path in [*training_files(train_dir), aliases]:
        if path.exists():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return Path(cache_dir) / f"neighbours-{h.hexdigest()[:16]}.npy"


def load_or_build(
    train_dir: Path,
    aliases: Path,
    cache_dir: Path,
    model_id: str,
    prepare: Callable[[str], str],
    embed: Callable[[str], list[float]],
) -> Neighbours | None:
    """The memory for these training files, from the cache or embedded now (once: ~10 s).
    `prepare` turns a question into the text retrieval embeds (aliases expanded), so a
    training question and a user's question meet in the same space."""
    rows = _rows(train_dir) if Path(train_dir).is_dir() else []
    if not rows:
        logger.info("no training questions in %s: neighbour votes off", train_dir)
        return None
    path = cache_path(train_dir, aliases, cache_dir, model_id)
    labels = [r["citations"] for r in rows]
    answerable = [r["answerable"] for r in rows]
    files = [r["file"] for r in rows]
    unrelated = [r["unrelated"] for r in rows]
    kinds = [r["kind"] for r in rows]
    try:
        matrix = np.load(path)
        if matrix.shape[0] == len(rows):
            return Neighbours(matrix, labels, answerable, files, unrelated, kinds)
    except (OSError, ValueError):
        pass
    logging.getLogger("policyqa.steps").warning(  # a first-run step people wait for
        "向量化训练问题 %d 条（邻近投票用，仅首次）", len(rows)
    )
    matrix = np.asarray([embed(prepare(r["question"])) for r in rows], dtype=np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, matrix)
        os.replace(tmp, path)
    except OSError as e:  # a read-only cache costs the next start ~10 s, nothing else
        logger.warning("neighbour vectors not cached (%s)", e)
    return Neighbours(matrix, labels, answerable, files, unrelated, kinds)
