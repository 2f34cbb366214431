"""Passages to vectors on the query encoder's ONNX bundle: adding a document without PyTorch.

The bundle (assistant/onnx_query.py) holds the model's encoder from the word embeddings on, its
tokenizer and its word-embedding table; a passage is the same model with the document prompt
(e5: "passage: ") instead of the query prompt. Here passages run in batches: sorted by token
count, so a batch pads little, each padded to its longest, the attention mask hiding the
padding and the mean taken over the real tokens only (as sentence-transformers pools).

``PassageEncoder.check`` proves on sample texts that padded batches give the vectors each text
gives alone and that the tokenizer matches the model's own (``tokenizers``, no torch); a bundle
that fails is not used and passages go to sentence-transformers as before.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# tokens per batch (padded): ~2,000 measured as fast as larger batches on 2 cores, with flat memory
BATCH_TOKENS = 2048
MAX_BATCH = 32


def sample_texts() -> list[str]:
    """Three texts of different lengths (so a batch pads) for the check before first use."""
    from .onnx_query import SAMPLES

    return [SAMPLES[1], SAMPLES[6], "。".join(SAMPLES[:3]) * 2]


def document_prompt(model_dir: str | Path) -> str | None:
    """The model's document prompt from its sentence-transformers config (no torch); None
    when the model directory does not say (then this module is not used)."""
    try:
        cfg = json.loads((Path(model_dir) / "config_sentence_transformers.json").read_text())
    except (OSError, ValueError):
        return None
    prompts = cfg.get("prompts") or {}
    for name in ("document", "passage"):
        if isinstance(prompts.get(name), str):
            return prompts[name]
    return "" if not prompts else None


class PassageEncoder:
    """Passages -> normalised vectors on an OnnxQueryEncoder's bundle and session."""

    def __init__(self, encoder, prompt: str):
        self.encoder = encoder
        self.prompt = prompt
        self.dimension = encoder.dimension
        tok = encoder.tokenizer
        self.pad_id = tok.special_ids.get("<pad>", 0)

    def token_ids(self, text: str) -> list[int]:
        return self.encoder.tokenizer.encode(self.prompt + text)

    def encode(self, texts: list[str]) -> np.ndarray:
        """One normalised float32 vector per text, in the order given."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids = [self.token_ids(t) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        batch: list[int] = []
        for i in order:
            width = len(ids[i])  # the longest so far: the batch's width
            if batch and (width * (len(batch) + 1) > BATCH_TOKENS or len(batch) >= MAX_BATCH):
                self._run(batch, ids, out)
                batch = []
            batch.append(i)
        if batch:
            self._run(batch, ids, out)
        return out

    def _run(self, batch: list[int], ids: list[list[int]], out: np.ndarray) -> None:
        enc = self.encoder
        width = max(len(ids[i]) for i in batch)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        rows = []
        for k, i in enumerate(batch):
            n = len(ids[i])
            mask[k, :n] = 1
            rows.append(ids[i] + [self.pad_id] * (width - n))
        flat = [t for r in rows for t in r]
        x = enc.embed_rows(flat).reshape(len(batch), width, self.dimension)
        session = enc.session()
        with enc._lock:  # one forward at a time, as the query encoder's
            hidden = session.run(None, {"inputs_embeds": x, "attention_mask": mask})[0]
        m = mask[..., None].astype(np.float32)
        vec = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
        out[batch] = vec.astype(np.float32)

    def check(self, texts: list[str], model_dir: str | Path | None = None) -> str | None:
        """None when padded batches of ``texts`` give each text's own vector and (with the
        model directory) the tokenizer gives the model's own token ids; else why not."""
        if model_dir is not None:
            problem = self._check_tokens(texts, Path(model_dir))
            if problem:
                return problem
        together = self.encode(texts)
        for k, t in enumerate(texts):
            alone = self.encode([t])[0]
            if float(alone @ together[k]) < 0.9999:
                return f"padded batch differs on {t[:20]!r}"
        return None

    def _check_tokens(self, texts: list[str], model_dir: Path) -> str | None:
        from tokenizers import Tokenizer

        path = model_dir / "tokenizer.json"
        if not path.exists():
            return None  # nothing to compare with: the vectors' check still runs
        fast = Tokenizer.from_file(str(path))
        fast.no_padding()
        fast.enable_truncation(self.encoder.max_length)
        for t in texts:
            if fast.encode(self.prompt + t).ids != self.token_ids(t):
                return f"token ids differ on {t[:20]!r}"
        return None
