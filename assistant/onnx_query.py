"""The query encoder of the serving path: ONNX Runtime, numpy and a small tokenizer; no PyTorch.

Questions are embedded here; documents are embedded by sentence-transformers when the index is
built. `export()` (run with the model loaded, at index time) writes a bundle the serving
processes load without torch, transformers or sentence-transformers:

- ``encoder.onnx``: the BERT encoder from the word embeddings on (~86 MB). The 250k x 384
  word-embedding table (384 MB) stays out of the graph: ``word_embeddings.npy`` is read a row
  per token with ``pread``, so a process holds only the rows it uses, not the table.
- ``pieces.txt`` / ``scores.npy`` and ``pipeline.json``: the model's Unigram tokenizer. The
  `tokenizers` library holds ~260 MB for a 250k-piece Unigram model (a trie of hash maps); here
  the same Viterbi search runs over a dict (~40 MB, ~0.1 ms a question), with the model's own
  normaliser and pre-tokeniser from `tokenizers`. The export proves equal token ids on sample
  texts and tests prove them on the plan, the training questions and generated text.
- ``spec.json``: model id, dimension, query prompt, maximum length, special tokens.

Only for Transformer -> mean Pooling -> Normalize with a Unigram tokenizer; any other model
answers questions on sentence-transformers (torch) instead.
"""

from __future__ import annotations

import array
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

FORMAT = 2
_UNK_PENALTY = 10.0  # tokenizers' Unigram: an unknown character scores min(score) - 10

# texts the export checks token by token against the model's own tokenizer
SAMPLES = (
    "散居孤儿每个月生活费多少？",
    "低保由哪个部门负责",
    "济政发〔2018〕5号 第三部分（五） 清单第56项「孤儿养育保障」",
    "ＡＢＣ１２３ full-width　and  double  spaces",
    "Hello, world! e\u0301 ñ Ω ß ﬁ ① ㊙ 😀👍🏽 \u200b",
    "<s>inside</s> <unk> <pad>text",
    "娃上学咋办？我家在章丘，老人80岁了。",
)


class UnsupportedModel(RuntimeError):
    """The model cannot be served from a bundle: questions stay on sentence-transformers."""


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


def bundle_dir(cache_dir: Path, model_id: str) -> Path:
    return cache_dir / "onnx" / re.sub(r"[^\w.-]+", "_", model_id)


def read_spec(bundle: Path) -> dict | None:
    """The bundle's spec when the bundle is complete and of this format; None otherwise."""
    try:
        spec = json.loads((bundle / "spec.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        return None
    return spec


# ---------------------------------------------------------------- export (index time, torch)


def export(model, bundle: Path, model_id: str, source: dict | None = None) -> Path:
    """Write the query-encoder bundle for a loaded SentenceTransformer; atomic (a temporary
    directory renamed into place). Raises UnsupportedModel when the model does not fit."""
    if not supported(model):
        raise UnsupportedModel("not Transformer -> mean Pooling -> Normalize")
    tok_json = json.loads(model.tokenizer.backend_tokenizer.to_str())
    bert = model[0].auto_model.eval()
    table = bert.get_input_embeddings().weight.detach().cpu().numpy().astype(np.float32)
    bundle.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".bundle-", dir=bundle.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the bundle is read by every serving process
    try:
        spec = {
            "format": FORMAT,
            "model_id": model_id,
            "dimension": int(table.shape[1]),
            "prompt": (model.prompts or {}).get("query", ""),
            "max_length": int(getattr(model, "max_seq_length", 512) or 512),
            **write_tokenizer(tok_json, work),
            "source": source or {},
        }
        _export_graph(bert, work / "encoder.onnx", table.shape[1])
        np.save(work / "word_embeddings.npy", table)
        (work / "spec.json").write_text(json.dumps(spec, ensure_ascii=False, indent=1))
        _verify(model, work)
        if bundle.exists():
            shutil.rmtree(bundle)
        work.rename(bundle)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return bundle


def write_tokenizer(tok: dict, folder: Path) -> dict:
    """Write a Unigram tokenizer.json's parts for QueryTokenizer; returns its spec entries."""
    pieces, scores, pipeline, specials, unk_id, template = _split_tokenizer(tok)
    (folder / "pieces.txt").write_text("\0".join(pieces), encoding="utf-8")
    np.save(folder / "scores.npy", np.asarray(scores, dtype=np.float64))
    (folder / "pipeline.json").write_text(json.dumps(pipeline, ensure_ascii=False))
    return {"unk_id": unk_id, "specials": specials, "template": template}


def _split_tokenizer(tok: dict):
    """(pieces, scores, pipeline without the model, specials, unk id, template) of a Unigram
    tokenizer.json; UnsupportedModel for anything this module does not reproduce exactly."""
    model = tok.get("model") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback") or model.get("unk_id") is None:
        raise UnsupportedModel("only Unigram tokenizers without byte fallback")
    vocab = model["vocab"]
    pieces = [p for p, _ in vocab]
    if any("\0" in p for p in pieces):
        raise UnsupportedModel("a piece holds NUL")
    specials = {}
    for added in tok.get("added_tokens") or []:
        if added.get("normalized") or added.get("single_word") or added.get("lstrip"):
            raise UnsupportedModel(f"added token with options: {added.get('content')}")
        if added.get("rstrip"):
            raise UnsupportedModel(f"added token with options: {added.get('content')}")
        specials[added["content"]] = int(added["id"])
    post = tok.get("post_processor")
    if post is None:
        template = ["A"]
    elif post.get("type") == "TemplateProcessing":
        template = []
        for item in post["single"]:
            if "Sequence" in item:
                template.append("A")
            else:
                template.extend(post["special_tokens"][item["SpecialToken"]["id"]]["ids"])
    else:
        raise UnsupportedModel(f"post-processor {post.get('type')}")
    # the normaliser and pre-tokeniser are kept whole; the model becomes a one-piece stand-in
    pipeline = dict(tok, added_tokens=[], post_processor=None, truncation=None, padding=None)
    pipeline["model"] = {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]]}
    return pieces, [float(s) for _, s in vocab], pipeline, specials, int(model["unk_id"]), template


def _export_graph(bert, path: Path, hidden: int) -> None:
    """BERT from its input embeddings on (position, type, LayerNorm and the layers) to ONNX."""
    import torch

    class Encoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, inputs_embeds, attention_mask):
            out = self.inner(inputs_embeds=inputs_embeds, attention_mask=attention_mask)
            return out.last_hidden_state

    axes = {0: "batch", 1: "tokens"}
    x = torch.zeros(1, 5, hidden)
    with warnings.catch_warnings(), torch.inference_mode():
        # the tracer's notes about Python control flow in transformers' attention code: the
        # graph is checked against the model instead (export's _verify, tests)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(bert),
            (x, torch.ones(1, 5, dtype=torch.long)),
            str(path),
            input_names=["inputs_embeds", "attention_mask"],
            output_names=["hidden"],
            dynamic_axes={"inputs_embeds": axes, "attention_mask": axes, "hidden": axes},
            opset_version=17,
            dynamo=False,
        )


def _verify(model, bundle: Path) -> None:
    """Equal token ids and equal vectors before a bundle is used (cheap: a few texts)."""
    enc = OnnxQueryEncoder(bundle, threads=1)
    fast = model.tokenizer
    prompt = enc.prompt
    for text in SAMPLES:
        want = fast(prompt + text, truncation=True, max_length=enc.max_length)["input_ids"]
        got = enc.tokenizer.encode(prompt + text)
        if list(want) != got:
            raise UnsupportedModel(f"token ids differ on {text[:20]!r}: {got[:8]} {want[:8]}")
    ref = model.encode_query(list(SAMPLES[:3]), normalize_embeddings=True)
    got = np.stack([enc.encode(t) for t in SAMPLES[:3]])
    if float((ref * got).sum(1).min()) < 0.9999:
        raise UnsupportedModel("the exported encoder gives other vectors")


# ---------------------------------------------------------------- serving (no torch)


class QueryTokenizer:
    """The model's Unigram tokenizer, token for token (see the module docstring)."""

    def __init__(self, bundle: Path, spec: dict):
        from tokenizers import Tokenizer

        pipeline = Tokenizer.from_file(str(bundle / "pipeline.json"))
        self._normalizer = pipeline.normalizer
        self._pre = pipeline.pre_tokenizer
        pieces = (bundle / "pieces.txt").read_text(encoding="utf-8").split("\0")
        self.ids = {p: i for i, p in enumerate(pieces)}  # a repeated piece: the last id wins
        # 8 bytes a score (2 MB), not a Python float each (8 MB): read a few dozen times a question
        self.scores = array.array("d", np.load(bundle / "scores.npy").astype(np.float64).tobytes())
        if len(self.scores) != len(pieces):
            raise ValueError("pieces and scores differ in length")
        self.longest = max(map(len, pieces))
        self.unk_id = int(spec["unk_id"])
        self.unk_score = min(self.scores) - _UNK_PENALTY
        self.max_length = int(spec["max_length"])
        self.template = spec["template"]
        specials = sorted(spec.get("specials") or {}, key=len, reverse=True)
        self.special_ids = spec.get("specials") or {}
        self._specials = re.compile("|".join(map(re.escape, specials))) if specials else None

    def encode(self, text: str) -> list[int]:
        """Token ids with the model's special tokens, truncated to its maximum length."""
        ids: list[int] = []
        for part, special in self._split_specials(text):
            if special:
                ids.append(self.special_ids[part])
                continue
            norm = self._normalizer.normalize_str(part) if self._normalizer else part
            words = self._pre.pre_tokenize_str(norm) if self._pre else [(norm, None)]
            for word, _ in words:
                ids.extend(self._viterbi(word))
        added = sum(1 for t in self.template if t != "A")
        ids = ids[: max(0, self.max_length - added)]
        out: list[int] = []
        for t in self.template:
            out.extend(ids if t == "A" else [t])
        return out

    def _split_specials(self, text: str):
        if self._specials is None:
            if text:
                yield text, False
            return
        pos = 0
        for m in self._specials.finditer(text):
            if m.start() > pos:
                yield text[pos : m.start()], False
            yield m.group(0), True
            pos = m.end()
        if pos < len(text):
            yield text[pos:], False

    def _viterbi(self, s: str) -> list[int]:
        """tokenizers' Unigram.encode_optimized: best path, ties to the shorter piece, a
        character no single piece covers becomes <unk>, neighbouring <unk>s fuse."""
        n = len(s)
        if n == 0:
            return []
        ids, scores, longest, unk_id = self.ids, self.scores, self.longest, self.unk_id
        best = [0.0] * (n + 1)
        start = [-1] * (n + 1)
        tok = [0] * (n + 1)
        for i in range(n):
            base = best[i]
            single = False
            for j in range(i + 1, min(n, i + longest) + 1):
                tid = ids.get(s[i:j])
                if tid is None:
                    continue
                score = scores[tid] + base
                if start[j] < 0 or score > best[j]:
                    best[j], start[j], tok[j] = score, i, tid
                if j == i + 1:
                    single = True
            if not single:
                score = self.unk_score + base
                if start[i + 1] < 0 or score > best[i + 1]:
                    best[i + 1], start[i + 1], tok[i + 1] = score, i, unk_id
        out: list[int] = []
        end, unk_end = n, None
        while end > 0:
            begin = start[end]
            if tok[end] == unk_id:
                if unk_end is None:
                    unk_end = end
            else:
                if unk_end is not None:
                    out.append(ids.get(s[end:unk_end], unk_id))
                    unk_end = None
                out.append(tok[end])
            end = begin
        if unk_end is not None:
            out.append(ids.get(s[0:unk_end], unk_id))
        out.reverse()
        return out


class OnnxQueryEncoder:
    """Question -> normalised vector from a bundle. The ONNX Runtime session opens on the first
    question (~0.3 s), so commands that never embed a question do not pay for it."""

    def __init__(self, bundle: Path, threads: int | None = None):
        spec = read_spec(bundle)
        if spec is None:
            raise FileNotFoundError(f"no query-encoder bundle at {bundle}")
        self.path = bundle
        self.spec = spec
        self.model_id = spec["model_id"]
        self.dimension = int(spec["dimension"])
        self.prompt = spec.get("prompt", "")
        self.max_length = int(spec["max_length"])
        self.threads = threads
        self.tokenizer = QueryTokenizer(bundle, spec)
        table = bundle / "word_embeddings.npy"
        with open(table, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read(fh)
            self._offset = fh.tell()
        if dtype != np.float32 or len(shape) != 2 or shape[1] != self.dimension:
            raise ValueError(f"{table}: expected float32 rows of {self.dimension}")
        if table.stat().st_size != self._offset + shape[0] * shape[1] * 4:
            raise ValueError(f"{table}: truncated")
        self._rows = shape[0]
        self._row_bytes = self.dimension * 4
        self._fd = os.open(table, os.O_RDONLY)
        self._lock = threading.Lock()
        self._session = None

    def __del__(self):
        with contextlib.suppress(Exception):
            os.close(self._fd)

    def session(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                opts = ort.SessionOptions()
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                opts.inter_op_num_threads = 1
                if self.threads:
                    opts.intra_op_num_threads = self.threads
                # idle threads sleep: a spinning pool takes the core from the other workers
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(
                    str(self.path / "encoder.onnx"), opts, providers=["CPUExecutionProvider"]
                )
            return self._session

    def embed_rows(self, ids: list[int]) -> np.ndarray:
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        size = self._row_bytes
        for k, i in enumerate(ids):
            if not 0 <= i < self._rows:
                raise ValueError(f"token id {i} outside the table")
            raw = os.pread(self._fd, size, self._offset + i * size)
            out[k] = np.frombuffer(raw, dtype=np.float32)
        return out

    def encode(self, text: str) -> np.ndarray:
        ids = self.tokenizer.encode(self.prompt + text)
        x = self.embed_rows(ids)[None]
        mask = np.ones((1, len(ids)), dtype=np.int64)
        session = self.session()
        with self._lock:  # one forward at a time: two would only fight over the cores
            hidden = session.run(None, {"inputs_embeds": x, "attention_mask": mask})[0]
        vec = hidden[0].mean(0)
        return (vec / max(np.linalg.norm(vec), 1e-12)).astype(np.float32)


def load(bundle: Path, threads: int | None = None) -> OnnxQueryEncoder | None:
    """The encoder of a complete bundle; None (with a log line) when it cannot be used."""
    if read_spec(bundle) is None:
        return None
    try:
        return OnnxQueryEncoder(bundle, threads)
    except Exception as e:
        logger.warning("query encoder bundle at %s unusable: %s", bundle, e)
        return None
