"""A faster query encoder for the same model: the sentence-transformers BERT exported to ONNX.

On 2 CPU cores one PyTorch forward pass of e5-small costs ~50 ms per question, mostly framework
overhead around small matrices; ONNX Runtime runs the same graph in ~17 ms (measured side by side;
tests/test_embeddings.py proves the vectors equal). Only the query side uses it: documents are
embedded by sentence-transformers when the index is built. Used only for a
Transformer -> mean Pooling -> Normalize pipeline; any other model stays on sentence-transformers.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def supported(model) -> bool:
    """True for Transformer -> Pooling(mean only) -> Normalize."""
    try:
        mods = list(model)
        pool = mods[1]
        mode = getattr(pool, "pooling_mode", None)
        if isinstance(mode, str):  # sentence-transformers >= 6
            mean_only = mode == "mean"
        else:  # older releases: one flag per mode
            mean_only = bool(pool.pooling_mode_mean_tokens) and not (
                pool.pooling_mode_cls_token or pool.pooling_mode_max_tokens
            )
        return (
            len(mods) == 3
            and type(mods[0]).__name__ == "Transformer"
            and type(pool).__name__ == "Pooling"
            and mean_only
            and type(mods[2]).__name__ == "Normalize"
        )
    except (AttributeError, IndexError, TypeError):
        return False


def export(model, path: Path) -> Path:
    """Export the model's BERT to ONNX (dynamic batch and length); atomic on one filesystem.

    The exporter's shape inference and serialisation scale with the 250k-row word-embedding
    table (~9 s of the export on 2 cores). So the graph is traced with an 8-row stand-in table
    and the real table is written into that initializer afterwards (~4.5 s in all); the graph
    never depends on the vocabulary size, and tests prove the vectors equal on every line.
    """
    import onnx
    import torch
    from onnx import numpy_helper

    bert = model[0].auto_model.eval()
    table = bert.get_input_embeddings()
    stand_in = torch.nn.Embedding(8, table.embedding_dim)

    class Encoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    ids = torch.tensor([[0, 5, 6, 7, 2]])
    axes = {0: "batch", 1: "tokens"}
    bert.set_input_embeddings(stand_in)
    try:
        with torch.inference_mode():
            torch.onnx.export(
                Encoder(bert),
                (ids, torch.ones_like(ids)),
                str(tmp),
                input_names=["input_ids", "attention_mask"],
                output_names=["hidden"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "hidden": axes},
                opset_version=17,
                dynamo=False,
            )
    finally:
        bert.set_input_embeddings(table)
    graph = onnx.load(str(tmp))
    shape = [8, table.embedding_dim]
    found = [t for t in graph.graph.initializer if list(t.dims) == shape]
    if len(found) != 1:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"expected one word-embedding initializer of shape {shape}")
    weights = table.weight.detach().cpu().numpy().astype(np.float32)
    found[0].CopyFrom(numpy_helper.from_array(weights, found[0].name))
    onnx.save(graph, str(tmp))
    tmp.replace(path)
    return path


class OnnxQueryEncoder:
    """The ONNX Runtime session is opened on the first question (~1.6 s), so commands that
    never embed a question (``policyqa index``) do not pay for it."""

    def __init__(self, model, onnx_path: Path, threads: int | None = None):
        self.path = onnx_path
        self.threads = threads
        self.tokenizer = model.tokenizer
        self.prompt = (model.prompts or {}).get("query", "")
        self.max_length = int(getattr(model, "max_seq_length", 512) or 512)
        self._lock = threading.Lock()
        self._session = None

    def session(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                if self.threads:
                    opts.intra_op_num_threads = self.threads
                self._session = ort.InferenceSession(
                    str(self.path), opts, providers=["CPUExecutionProvider"]
                )
            return self._session

    def encode(self, text: str) -> np.ndarray:
        enc = self.tokenizer(
            [self.prompt + text], return_tensors="np", truncation=True, max_length=self.max_length
        )
        mask = enc["attention_mask"].astype(np.int64)
        session = self.session()
        with self._lock:  # one forward at a time: two would only fight over the cores
            hidden = session.run(
                None, {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": mask}
            )[0]
        vec = (hidden * mask[..., None]).sum(1)[0] / max(mask.sum(), 1)
        return (vec / max(np.linalg.norm(vec), 1e-12)).astype(np.float32)


def load(
    model, cache_dir: Path, model_id: str, threads: int | None = None
) -> OnnxQueryEncoder | None:
    """The ONNX query encoder for this model, exported once into the cache; None when unusable."""
    if not supported(model):
        return None
    path = cache_dir / "onnx" / (re.sub(r"[^\w.-]+", "_", model_id) + ".onnx")
    try:
        if not path.exists():
            logger.warning("exporting the query encoder to ONNX once (~5 s): %s", path)
            export(model, path)
        return OnnxQueryEncoder(model, path, threads)
    except Exception as e:
        logger.warning("ONNX query encoder unavailable, using sentence-transformers: %s", e)
        return None
