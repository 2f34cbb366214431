"""Before `policyqa serve` answers: the index checked without loading a model, and built in a
child process when it is missing or stale, so PyTorch never enters the serving process."""

from __future__ import annotations

import contextlib
import gc
import importlib.abc
import importlib.machinery
import json
import logging
import os
import subprocess
import sys

from .settings import Settings

logger = logging.getLogger(__name__)


def index_is_current(settings: Settings) -> bool:
    """True when the query-encoder bundle and the persistent index match the corpus and model.

    Reads files only (the bundle's spec, the manifest beside the store): no model, no Chroma.
    A Chroma server cannot be checked from files; the workers check it when they open it.
    """
    from .embeddings import model_fingerprint, resolve_model
    from .onnx_query import bundle_dir, read_spec
    from .store import expected_manifest, manifest_path

    if settings.query_backend == "torch":
        return False  # questions on torch: the serving process loads it anyway
    name, model_id = resolve_model(settings, convert=False)
    spec = read_spec(bundle_dir(settings.model_cache_dir, model_id))
    if not spec or spec.get("source") != model_fingerprint(name):
        return False
    from .neighbours import cache_path, training_files

    if training_files(settings.train_dir):  # the neighbour votes' cached vectors
        aliases = settings.corpus_dir / "aliases.toml"
        if not cache_path(settings.train_dir, aliases, settings.model_cache_dir, model_id).exists():
            return False
    if settings.chroma_url:
        return True
    try:
        found = json.loads(manifest_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return found == expected_manifest(settings, model_id, spec["dimension"])


def prepare_index(settings: Settings, unset: list[str] | tuple[str, ...] = ()) -> None:
    """Build what is missing (model conversion, query encoder, index) in `policyqa index`, a
    child process that shows its steps; the server itself then loads only what serving needs.
    ``unset``: environment variables of the server that the build must not inherit."""
    if index_is_current(settings):
        return
    logger.warning("index or query encoder missing or stale: running `policyqa index` first")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    cmd = [sys.executable, "-m", "assistant.cli", "index"]
    done = subprocess.run(cmd, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(done.returncode)


@contextlib.contextmanager
def building_objects():
    """Around start-up, which builds a few million objects that live as long as the process
    (jieba's dictionary, the query tokenizer's pieces, pinyin tables, records, BM25, Gradio).

    The cyclic collector runs after every few hundred new objects and, now and then, walks all
    of them: with it off while they are built, a server starts ~40 % sooner (measured on the
    Service). At the end one collection, then the survivors are frozen: later collections skip
    them (no full walk of millions of objects in the middle of an answer), and a forked worker
    does not write to their pages (they stay shared)."""
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.freeze()
        gc.enable()


GRADIO_STUBS = "gradio.component_meta"


class _NoGradioStubs(importlib.abc.MetaPathFinder):
    """Loads gradio.component_meta as usual, then makes its stub writer do nothing."""

    def find_spec(self, name, path, target=None):
        if name != GRADIO_STUBS:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once: the module is imported once
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module):
            run(module)
            if hasattr(module, "create_or_modify_pyi"):
                module.create_or_modify_pyi = _no_stub

        loader.exec_module = exec_module
        return spec


def _no_stub(*args, **kwargs) -> None:
    return None


def skip_gradio_stub_writing() -> None:
    """Before Gradio is imported: do not let it rewrite its components' type stubs.

    On every import Gradio regenerates a `.pyi` file beside each of its ~80 component modules
    in site-packages (each parsed with `ast` and rendered through a template): files for
    editors, never read when serving, about 40 % of `import gradio` (measured 3.0 -> 1.8 s of
    CPU), and a write into the installed package on every start. Nothing else changes; with a
    Gradio that no longer has the function, nothing happens."""
    if GRADIO_STUBS in sys.modules or any(isinstance(f, _NoGradioStubs) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _NoGradioStubs())
