"""Scale benchmark (issue 13): libraries of 1×, 10× and 100× the seed's chunks, in one run.

    .venv/bin/python eval/bench_scale.py [--sizes 1,10,100] [--questions 40] [--no-server]

The libraries are made by the benchmark from the seed plan: document i is the seed's text with a
first line marking it synthetic (【基准测试合成文件，非真实政策】), its own title and 文号, and
every amount in 元 raised by i (so its chunks differ from the seed's). They are written to a
temporary folder as a library (files, .toml, library.json) and removed afterwards; nothing is
shipped or committed. Size N is the seed plus N-1 synthetic documents.

For each size, in embedded Chroma (a persistent folder) and in a Chroma server the benchmark
starts (`chroma run` on a free loopback port), it measures:

- full build: the whole index from nothing (``store.ensure_index``), and the parse of the library;
- re-open unchanged: the library parsed afresh and the index checked against it (what a server
  start does besides loading the model), embedding nothing; and the whole Service (records,
  BM25, the index check, the vector store) as a process would build it;
- retrieval and answer p50/p95 over questions of the team set (``Service.search``, ``answer``),
  and the parts of retrieval that could grow with the library: BM25 and the vector query;
- adding one seed-sized document (a new synthetic one) with *real* embedding through the
  Service (``Library.add`` + the reload of records and BM25), and removing it again. The store
  re-uses the vector of any passage it already holds word for word, and the synthetic
  documents share ~99 % of their passages with the seed, so the added one is made new
  throughout (a mark before every 。/；, amounts raised): ~305 of its ~333 passages are
  embedded, the worst case of a document that shares nothing.

Embedding 100× the seed (~32,000 chunks) for real takes hours on 2 cores, so the rate is
measured first and only the 1× library is embedded for real; the 10× and 100× builds re-use the
vectors of the seed's chunks for the synthetic documents' chunks (their text is the seed's with
other amounts: the vector of the seed chunk with the same text apart from its digits), and the
report gives the time a real embedding would add at the measured rate. The add of one document
is always embedded for real. Results: a table on stdout and eval/reports/scale.json.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARK = "【基准测试合成文件，非真实政策】"
AMOUNT = re.compile(r"(\d+)(元)")
DIGITS = re.compile(r"\d+")
TARGETS = {"reopen_s": 3.0, "add_s": 20.0, "retrieval_p95_ratio": 2.0}


# ---------------------------------------------------------------- the synthetic library


def synthetic_text(seed_text: str, i: int) -> str:
    """The seed with its amounts raised by i, marked synthetic on its first line."""
    body = AMOUNT.sub(lambda m: f"{int(m.group(1)) + i}{m.group(2)}", seed_text)
    return f"{MARK}\n{body}"


def novel_text(seed_text: str, i: int) -> str:
    """A seed-sized document whose passages the store does not hold: every sentence marked."""
    return synthetic_text(seed_text, i).replace("。", "※。").replace("；", "※；")


def write_library(library: Path, seed_text: str, seed_meta, numbers: range) -> None:
    """Synthetic documents as the library keeps them: <id>.txt, <id>.toml, library.json."""
    from assistant.documents import LIBRARY_MANIFEST

    library.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in numbers:
        doc_id = f"synthetic-{i:03d}"
        path = library / f"{doc_id}.txt"
        path.write_text(synthetic_text(seed_text, i), encoding="utf-8")
        toml = "\n".join(
            [
                "# synthetic: made by eval/bench_scale.py from the seed, not real policy",
                f'id = "{doc_id}"',
                f'title = "{seed_meta.title}（基准测试合成{i:03d}）"',
                f'doc_number = "济测发〔2018〕{i}号"',
                f'issued = "{seed_meta.issued}"',
                f'period = "{seed_meta.period}"',
                f'issuer = "{seed_meta.issuer}"',
                f'original_name = "{doc_id}.txt"',
                'added = "2026-11-30T00:00:00+00:00"',
            ]
        )
        path.with_suffix(".toml").write_text(toml + "\n", encoding="utf-8")
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        entries.append({"id": doc_id, "file": path.name, "sha256": sha})
    (library / LIBRARY_MANIFEST).write_text(
        json.dumps({"documents": entries}, ensure_ascii=False, indent=1), encoding="utf-8"
    )


class ReusedVectors:
    """Document vectors of synthetic chunks from the seed chunk with the same text apart from
    digits; any other text is embedded for real (counted). Questions: the real encoder."""

    def __init__(self, inner, by_key: dict[str, list[float]]):
        self.inner, self.by_key = inner, by_key
        self.model_id, self.dimension = inner.model_id, inner.dimension
        self.real = 0

    def embed_documents(self, texts):
        out, missing = [], []
        for t in texts:
            v = self.by_key.get(DIGITS.sub("#", t))
            out.append(v)
            if v is None:
                missing.append(t)
        if missing:
            self.real += len(missing)
            vectors = iter(self.inner.embed_documents(missing))
            out = [v if v is not None else next(vectors) for v in out]
        return out

    def embed_query(self, text):
        return self.inner.embed_query(text)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Timed:
    """The real embeddings, recording the time spent embedding documents."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id, self.dimension = inner.model_id, inner.dimension
        self.seconds, self.cpu_seconds, self.texts = 0.0, 0.0, 0

    def embed_documents(self, texts):
        return self._timed(self.inner.embed_documents, texts)

    def embed_passages(self, texts):
        """An added document's passages (the ONNX bundle when the embeddings have one)."""
        embed = getattr(self.inner, "embed_passages", self.inner.embed_documents)
        return self._timed(embed, texts)

    def _timed(self, embed, texts):
        t0 = time.perf_counter()
        c0 = time.process_time()
        out = embed(texts)
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0
        self.texts += len(texts)
        return out

    def embed_query(self, text):
        return self.inner.embed_query(text)

    def __getattr__(self, name):
        return getattr(self.inner, name)


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def chroma_server(path: Path):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("chroma run did not start") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def pct(values: list[float]) -> tuple[float, float]:
    a = np.array(values) * 1000
    return round(float(np.percentile(a, 50)), 1), round(float(np.percentile(a, 95)), 1)


def fresh_process_state() -> None:
    """Forget what this process has parsed and opened, as a new process would have."""
    from chromadb.api.client import SharedSystemClient

    from assistant import documents

    documents._library_plan.cache_clear()
    with contextlib.suppress(AttributeError):
        documents.load_plans.cache_clear()
    SharedSystemClient.clear_system_cache()
    gc.collect()


def forget(encoder) -> None:
    """Clear the question-vector cache and the retrieval memos: the next question is new."""
    from assistant.retrieval import PlanIndex

    encoder._cached.cache_clear()
    for value in vars(PlanIndex).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()


def questions(n: int) -> list[str]:
    rows = [json.loads(x) for x in (ROOT / "eval/questions/team-v1.jsonl").read_text().splitlines()]
    return [r["question"] for r in rows if r.get("question")][:n]


# ---------------------------------------------------------------- one library, one store


def measure(settings, emb, real_emb, seed_text, seed_meta, qs, work: Path) -> dict:
    from assistant.chunks import build_chunks
    from assistant.library import Library
    from assistant.service import Service
    from assistant.store import ensure_index, nearest

    out: dict = {"loadavg_1min_at_start": round(os.getloadavg()[0], 2)}
    fresh_process_state()
    t0 = time.perf_counter()
    plans = Library(settings).plans()
    out["parse_s"] = round(time.perf_counter() - t0, 2)
    chunks = sum(len(build_chunks(p.records)) for p in plans)
    out["documents"], out["chunks"] = len(plans), chunks

    real_before = getattr(emb, "real", None)
    t0 = time.perf_counter()
    ensure_index(settings, emb, rebuild=True, plans=plans)
    out["build_s"] = round(time.perf_counter() - t0, 2)
    if real_before is not None:
        out["build_embedded_for_real"] = emb.real - real_before

    # re-open unchanged: parse afresh, check the index (embeds nothing)
    fresh_process_state()
    counting = Timed(emb)
    t0 = time.perf_counter()
    plans = Library(settings).plans()
    t1 = time.perf_counter()
    ensure_index(settings, counting, plans=plans)
    t2 = time.perf_counter()
    out["reopen_parse_s"] = round(t1 - t0, 2)
    out["reopen_check_s"] = round(t2 - t1, 2)
    out["reopen_s"] = round(t2 - t0, 2)
    out["reopen_embedded"] = counting.texts

    # the whole Service as a process builds it (records, BM25, index check, vector store)
    fresh_process_state()
    t0 = time.perf_counter()
    svc = Service(settings, with_vectors=False)
    t1 = time.perf_counter()
    svc.attach_vectors(embeddings=emb)
    out["service_records_bm25_s"] = round(t1 - t0, 2)
    out["service_start_s"] = round(time.perf_counter() - t0, 2)

    # retrieval and answers: every question new to the process (no cached vector or memo)
    inner = real_emb.inner if isinstance(real_emb, Timed) else real_emb
    for q in qs[:3]:  # warm-up: first-call costs are not what a library's size changes
        svc.answer(q)
    search_t, answer_t, bm25, vec = [], [], [], []
    for q in qs:
        forget(inner)
        t0 = time.perf_counter()
        svc.search(q, k=5)
        search_t.append(time.perf_counter() - t0)
        forget(inner)
        t0 = time.perf_counter()
        svc.answer(q)
        answer_t.append(time.perf_counter() - t0)
        expanded = svc.index.expand(q)[0]
        tokens = svc.index.tokenizer.tokens(expanded)
        t0 = time.perf_counter()
        svc.index.bm25_rank(tokens, svc.settings.retrieval_candidates)
        bm25.append(time.perf_counter() - t0)
        e = inner.embed_query(expanded)
        t0 = time.perf_counter()
        nearest(svc.retriever.vectorstore, e, svc.settings.retrieval_candidates)
        vec.append(time.perf_counter() - t0)
    out["retrieval_p50_ms"], out["retrieval_p95_ms"] = pct(search_t)
    out["answer_p50_ms"], out["answer_p95_ms"] = pct(answer_t)
    out["bm25_p50_ms"], out["bm25_p95_ms"] = pct(bm25)
    out["vector_p50_ms"], out["vector_p95_ms"] = pct(vec)

    # add one seed-sized document, embedded for real, through the Service; then remove it
    new = work / "synthetic-new.txt"
    new.write_text(novel_text(seed_text, 777), encoding="utf-8")
    timed = Timed(real_emb)
    svc.library = Library(settings, timed)
    t0 = time.perf_counter()
    info = svc.library.add(new, doc_id="synthetic-new", title=f"{seed_meta.title}（基准测试新增）")
    t1 = time.perf_counter()
    svc.refresh(force=True)
    t2 = time.perf_counter()
    out["add_s"] = round(t2 - t0, 2)
    out["add_library_s"] = round(t1 - t0, 2)
    out["add_embed_s"] = round(timed.seconds, 2)
    out["add_embed_cpu_ms_per_passage"] = round(1000 * timed.cpu_seconds / max(timed.texts, 1), 1)
    out["add_embedded"] = timed.texts
    out["add_reload_s"] = round(t2 - t1, 2)
    out["add_records"] = info.records
    out["add_chunks"] = sum(
        len(build_chunks(p.records)) for p in svc.library.plans() if p.meta.id == "synthetic-new"
    )
    out["add_other_s"] = round(out["add_library_s"] - out["add_embed_s"], 2)
    t0 = time.perf_counter()
    svc.remove_document("synthetic-new")
    out["remove_s"] = round(time.perf_counter() - t0, 2)
    out["loadavg_1min_at_end"] = round(os.getloadavg()[0], 2)
    del svc
    gc.collect()
    return out


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1,10,100")
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--no-server", action="store_true", help="embedded Chroma only")
    ap.add_argument("--out", type=Path, default=ROOT / "eval" / "reports" / "scale.json")
    args = ap.parse_args(argv)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    from assistant.chunks import build_chunks
    from assistant.documents import load_plans
    from assistant.embeddings import make_embeddings
    from assistant.service import quiet_libraries
    from assistant.settings import Settings

    quiet_libraries()
    sizes = [int(s) for s in args.sizes.split(",")]
    base = Settings()
    seed = load_plans(base.corpus_dir)[0]
    seed_text = (base.corpus_dir / seed.meta.text).read_text(encoding="utf-8")
    seed_chunks = build_chunks(seed.records)
    qs = questions(args.questions)
    load_start = os.getloadavg()

    real = make_embeddings(base)
    texts = [d.page_content for d in seed_chunks]
    real.embed_documents(texts[:8])  # the model loads once
    t0 = time.perf_counter()
    real.embed_documents(texts[:64])
    rate = 64 / (time.perf_counter() - t0)
    print(f"embedding rate: {rate:.1f} chunks/s (64 of the seed's chunks)", flush=True)

    by_key: dict[str, list[float]] = {}
    results: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "cores": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load_start],
        "seed_chunks": len(seed_chunks),
        "embedding_rate_chunks_per_s": round(rate, 1),
        "questions": len(qs),
        "targets": TARGETS,
        "sizes": {},
        "notes": [
            "1x is embedded for real; 10x and 100x re-use the seed chunks' vectors for the "
            "synthetic documents (their text is the seed's with other amounts); "
            "build_real_estimate_s adds what embedding every chunk would take at the measured rate.",
            "add_s embeds the new seed-sized document for real and includes reloading records "
            "and BM25 (Service.refresh); the document is made new in every sentence, so "
            "add_embedded of its add_chunks passages are embedded (the rest are headings and "
            "table rows the store already holds).",
            "reopen_s: the library read (parsed copies) and the index checked against it, in a "
            "process that has imported chromadb; reopen_check_s includes Chroma's first touch of "
            "the collection (loading its segment), which the first question would pay otherwise.",
        ],
    }
    backends = ["embedded"] + ([] if args.no_server else ["server"])
    work = Path(tempfile.mkdtemp(prefix="policyqa-scale-"))
    try:
        with contextlib.ExitStack() as stack:
            url = None
            if "server" in backends:
                url = stack.enter_context(chroma_server(work / "chroma-server"))
            for size in sizes:
                row: dict = {}
                for backend in backends:
                    lib = work / f"library-{size}-{backend}"
                    write_library(lib, seed_text, seed.meta, range(1, size))
                    settings = Settings(
                        index_dir=work / f"index-{size}-{backend}",
                        library_dir=lib,
                        feedback_db=work / "feedback.sqlite3",
                        chroma_url=url if backend == "server" else None,
                        chroma_collection=f"scale-{size}",
                    )
                    if size == 1 and not by_key:
                        # the seed for real; its vectors are the ones re-used below
                        class Keep(Timed):
                            def embed_documents(self, texts):
                                vecs = super().embed_documents(texts)
                                for t, v in zip(texts, vecs, strict=True):
                                    by_key[DIGITS.sub("#", t)] = v
                                return vecs

                        emb = Keep(real)
                    else:
                        emb = ReusedVectors(real, by_key)
                    print(f"{size}x {backend}: measuring…", flush=True)
                    try:
                        r = measure(settings, emb, real, seed_text, seed.meta, qs, work)
                    except Exception as e:  # one cell failing does not lose the others
                        import traceback

                        traceback.print_exc()
                        row[backend] = {"error": f"{type(e).__name__}: {e}"}
                        continue
                    row[backend] = r
                    print(json.dumps(r, ensure_ascii=False), flush=True)
                    shutil.rmtree(lib, ignore_errors=True)
                results["sizes"][str(size)] = row
    finally:
        shutil.rmtree(work, ignore_errors=True)

    estimates(results)
    check_targets(results, sizes, backends)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    print(table(results, sizes, backends))
    return 0


def estimates(results: dict) -> None:
    """What a real embedding of every chunk would add to the builds that re-used vectors, at the
    rate of the one real full build (1× embedded: the seed's 325 chunks, whole texts; the 64-chunk
    probe at the start is of the seed's first, shorter chunks and reads faster)."""
    one = results["sizes"].get("1", {}).get("embedded", {})
    real = one.get("build_embedded_for_real", one.get("chunks", 0))  # 1×: all of them
    rate = real / one["build_s"] if one.get("build_s") else 0
    rate = rate or results["embedding_rate_chunks_per_s"]
    results["build_rate_chunks_per_s"] = round(rate, 1)
    for row in results["sizes"].values():
        for r in row.values():
            if "error" not in r:
                real = r.get("build_embedded_for_real", r["chunks"])
                r["build_real_estimate_s"] = round(r["build_s"] + (r["chunks"] - real) / rate, 1)


def check_targets(results: dict, sizes: list[int], backends: list[str]) -> None:
    met = {}
    for b in backends:
        rows = [results["sizes"][str(s)][b] for s in sizes]
        if any("error" in r for r in rows):
            met[f"{b}: measured"] = False
            continue
        met[f"{b}: re-open ≤ {TARGETS['reopen_s']} s"] = all(
            r["reopen_s"] <= TARGETS["reopen_s"] for r in rows
        )
        met[f"{b}: add ≤ {TARGETS['add_s']} s"] = all(r["add_s"] <= TARGETS["add_s"] for r in rows)
        if len(rows) > 1:
            ratio = rows[-1]["retrieval_p95_ms"] / rows[0]["retrieval_p95_ms"]
            results.setdefault("retrieval_p95_ratio", {})[b] = round(ratio, 2)
            met[f"{b}: retrieval p95 {sizes[-1]}x ≤ 2 × 1x"] = ratio <= 2.0
    results["targets_met"] = met


def table(results: dict, sizes: list[int], backends: list[str]) -> str:
    head = (
        "| size | store | docs | chunks | full build s (real-embedding estimate) | re-open s "
        "(parse + check) | service start s | add one doc s (embed s for passages embedded/all, "
        "rest of the add, reload) | retrieval p50/p95 ms "
        "| BM25 p50/p95 ms | vector p50/p95 ms | answer p50/p95 ms | load (1 min) |"
    )
    lines = [head, "|" + "---|" * 13]
    for s in sizes:
        for b in backends:
            r = results["sizes"][str(s)][b]
            if "error" in r:
                lines.append(f"| {s}× | {b} | error: {r['error'][:80]} |")
                continue
            lines.append(
                f"| {s}× | {b} | {r['documents']} | {r['chunks']:,} | {r['build_s']} "
                f"({r['build_real_estimate_s']}) | {r['reopen_s']} ({r['reopen_parse_s']} + "
                f"{r['reopen_check_s']}) | {r['service_start_s']} | {r['add_s']} "
                f"({r['add_embed_s']} for {r['add_embedded']}/{r['add_chunks']}, "
                f"{r['add_other_s']}, {r['add_reload_s']}) | {r['retrieval_p50_ms']} / "
                f"{r['retrieval_p95_ms']} | {r['bm25_p50_ms']} / {r['bm25_p95_ms']} | "
                f"{r['vector_p50_ms']} / {r['vector_p95_ms']} | {r['answer_p50_ms']} / "
                f"{r['answer_p95_ms']} | {r.get('loadavg_1min_at_start', '?')}–"
                f"{r.get('loadavg_1min_at_end', '?')} |"
            )
    met = results.get("targets_met", {})
    lines.append("")
    lines += [f"- {k}: {'met' if v else 'NOT met'}" for k, v in met.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
