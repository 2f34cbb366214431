"""An added document's passages on the ONNX bundle (assistant/onnx_passages.py): the vectors
sentence-transformers gives, padded batches equal to single texts, no PyTorch in the process
that adds, and the model itself when the bundle cannot give them."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.onnx_passages import PassageEncoder, document_prompt, sample_texts

FIXTURES = Path(__file__).parent / "fixtures" / "docs"


class _Tokens:
    """One id per character (a stand-in for the bundle's tokenizer)."""

    def __init__(self):
        self.special_ids = {"<pad>": 0}

    def encode(self, text: str) -> list[int]:
        return [1 + ord(c) % 50 for c in text]


class _Session:
    """A stand-in encoder layer: each position mixes with the positions it may attend to;
    ``honest`` decides whether padding is hidden by the attention mask."""

    def __init__(self, honest: bool):
        self.honest = honest

    def run(self, _, feed):
        x, mask = feed["inputs_embeds"], feed["attention_mask"]
        m = mask[..., None].astype(np.float32) if self.honest else np.ones_like(x[..., :1])
        context = (x * m).sum(1, keepdims=True) / m.sum(1, keepdims=True)
        return [np.tanh(x + context)]


class _Bundle:
    """What PassageEncoder uses of an OnnxQueryEncoder."""

    dimension = 8
    max_length = 512

    def __init__(self, honest: bool):
        rng = np.random.default_rng(0)
        self.table = rng.normal(size=(60, self.dimension)).astype(np.float32)
        self.tokenizer = _Tokens()
        self._lock = threading.Lock()
        self._session = _Session(honest)

    def embed_rows(self, ids):
        return self.table[ids]

    def session(self):
        return self._session


def test_padded_batches_give_each_texts_own_vector():
    enc = PassageEncoder(_Bundle(honest=True), "passage: ")
    texts = ["短", "长一些的一段文字，" * 5, "中等长度的文字"]
    together = enc.encode(texts)
    alone = np.stack([enc.encode([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-6)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-6)
    assert enc.check(sample_texts()) is None


def test_a_bundle_whose_graph_ignores_padding_is_not_used():
    """The export traced the model with a mask of ones: a graph that lost the mask would give
    padded passages other vectors. The check finds it and passages go to the model itself."""
    from assistant.embeddings import SentenceTransformerEmbeddings

    assert PassageEncoder(_Bundle(honest=False), "passage: ").check(sample_texts())

    class Model:
        calls = 0

        def encode_document(self, texts, **_):
            Model.calls += 1
            return np.ones((len(texts), 8), dtype=np.float32) / np.sqrt(8)

    query = _Bundle(honest=False)
    emb = SentenceTransformerEmbeddings(
        Model(), "m", query_encoder=query, dimension=8, passage_prompt="passage: "
    )
    assert emb.passage_encoder() is None
    assert len(emb.embed_passages(["一段", "两段文字"])) == 2 and Model.calls == 1
    honest = SentenceTransformerEmbeddings(
        Model(), "m", query_encoder=_Bundle(honest=True), dimension=8, passage_prompt="passage: "
    )
    assert honest.passage_encoder() is not None
    honest.embed_passages(["一段", "两段文字"])
    assert Model.calls == 1  # the bundle embedded them


def test_the_document_prompt_comes_from_the_model_directory(tmp_path):
    (tmp_path / "config_sentence_transformers.json").write_text(
        '{"prompts": {"query": "query: ", "document": "passage: "}}'
    )
    assert document_prompt(tmp_path) == "passage: "
    assert document_prompt(tmp_path / "missing") is None


@pytest.mark.slow
def test_onnx_passages_are_the_models_own_vectors(service):
    """On every chunk of the seed and of both fixture documents: the same token ids as the
    model's tokenizer and the vectors sentence-transformers gives (cosine >= 0.9999)."""
    from assistant.chunks import build_chunks
    from assistant.documents import load_document
    from assistant.embeddings import resolve_model

    emb = service.embeddings
    encoder = emb.passage_encoder()
    assert encoder is not None
    texts = [d.page_content for d in service.index.chunks]
    for stem in ("jn-fixture-notice", "jn-fixture-rules"):
        texts += [
            d.page_content for d in build_chunks(load_document(FIXTURES / f"{stem}.txt").records)
        ]
    name, _ = resolve_model(service.settings, convert=False)
    assert encoder.check(texts[:40], name) is None  # token ids, and batches equal single texts
    fast = encoder.encode(texts)
    ref = np.array(emb.embed_documents(texts))
    cos = (fast * ref).sum(1)
    assert cos.min() >= 0.9999, texts[int(np.argmin(cos))][:40]


ADD = """
import sys
from pathlib import Path
from assistant.library import Library
from assistant.settings import Settings
index = Path(sys.argv[1])
settings = Settings(index_dir=index, library_dir=index.parent / "library")
info = Library(settings).add(Path(sys.argv[2]))
print(info.id, "torch" in sys.modules, "sentence_transformers" in sys.modules)
"""


@pytest.mark.slow
def test_adding_a_document_loads_no_pytorch(service, tmp_path):
    """`policyqa add` in a process of its own: the passages on the bundle, torch never imported;
    the stored vectors are the model's own."""
    import shutil

    index = tmp_path / "index"
    shutil.copytree(service.settings.index_dir, index)
    out = subprocess.run(
        [sys.executable, "-c", ADD, str(index), str(FIXTURES / "jn-fixture-rules.txt")],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout.split()
    assert out == ["jn-fixture-rules", "False", "False"], out
    from assistant.store import get_collection

    col = get_collection(service.settings.model_copy(update={"index_dir": index}))
    got = col.get(where={"plan": "jn-fixture-rules"}, include=["embeddings", "documents"])
    ref = np.array(service.embeddings.embed_documents(got["documents"]))
    assert ((np.array(got["embeddings"]) * ref).sum(1)).min() >= 0.9999


def test_fake_embeddings_without_a_passage_encoder_still_add():
    """Embeddings with only embed_documents (tests, other backends) embed an added document."""
    from assistant.store import embed_texts

    from .conftest import FakeEmbeddings

    fake = FakeEmbeddings()
    assert len(embed_texts(fake, ["一", "二"], added=True)) == 2 and fake.calls == 1
