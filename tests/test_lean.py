"""The lean server: answering without PyTorch, the query tokenizer token for token, answer
workers behind one front (limits, page, feedback, a worker lost), replicas on one Chroma server."""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.settings import ROOT, Settings

from .conftest import SOURCE, LiveServer, free_port, start_chroma

HEAVY = ("torch", "transformers", "sentence_transformers")
QUESTION = "散居孤儿每个月生活费多少？"


# ---------------------------------------------------------------- the query tokenizer


def _small_unigram(tmp_path: Path):
    """A tokenizers Unigram tokenizer shaped like the converted e5 one (normaliser, Metaspace,
    isolated unknown characters, special tokens, <s> $A </s>), and our reading of it."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    from assistant.onnx_query import QueryTokenizer, write_tokenizer

    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "孤", "儿", "孤儿", "养育", "保障", "▁孤儿"]
    pieces += ["低保", "低", "保", "a", "b", "ab", "ba", "aba", "▁a", "标准", "标", "准", "育"]
    pieces += ["是", "多少", "多", "少", "？", "1", "12", "123", "元"]
    scores = [0.0] * 4 + [-(1.0 + (i * 7919) % 23 / 3) for i in range(len(pieces) - 4)]
    tok = Tokenizer(models.Unigram(list(zip(pieces, scores, strict=True)), unk_id=3))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    known = sorted({ch for p in pieces[4:] for ch in p})
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False),
            pre_tokenizers.Split(
                Regex("[^" + "".join(f"\\x{{{ord(c):x}}}" for c in known) + "]"), "isolated"
            ),
        ]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>"])
    tok.enable_truncation(12)
    spec = write_tokenizer(json.loads(tok.to_str()), tmp_path) | {"max_length": 12}
    return tok, QueryTokenizer(tmp_path, spec)


TEXTS = st.text(
    alphabet=st.sampled_from(list("孤儿养育保障低标准多少是？ab 12３元Ａ<>/spunk\u0301😀")),
    max_size=30,
) | st.sampled_from(["<s>孤儿</s>", "<unk><pad>", "aaaa", "ababab", "  孤儿  ", "孤" * 40])


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXTS)
def test_query_tokenizer_gives_the_ids_of_tokenizers_unigram(tmp_path, text):
    """Viterbi ties, unknown characters (fused when neighbours), special tokens in user text,
    normalisation and truncation: the same ids as the tokenizers library."""
    ref, ours = _small_unigram(tmp_path)
    assert ours.encode(text) == ref.encode(text).ids


def test_tokenizers_we_cannot_reproduce_are_refused():
    from tokenizers import Tokenizer, models

    from assistant.onnx_query import UnsupportedModel, _split_tokenizer

    bpe = json.loads(Tokenizer(models.BPE()).to_str())
    with pytest.raises(UnsupportedModel, match="Unigram"):
        _split_tokenizer(bpe)
    uni = Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0)], unk_id=0))
    from tokenizers import AddedToken

    uni.add_special_tokens([AddedToken("<x>", lstrip=True)])
    with pytest.raises(UnsupportedModel, match="options"):
        _split_tokenizer(json.loads(uni.to_str()))


@pytest.mark.slow
def test_query_tokenizer_equals_the_models_on_the_plan_and_every_training_question(service):
    from tokenizers import Tokenizer

    enc = service.embeddings.query_encoder
    assert enc is not None, "the default model serves questions from the ONNX bundle"
    full = Tokenizer.from_str(service.embeddings.model.tokenizer.backend_tokenizer.to_str())
    full.enable_truncation(enc.max_length)
    texts = [ln for ln in SOURCE.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for path in sorted((ROOT / "eval" / "train").glob("*.jsonl")):
        texts += [json.loads(x)["question"] for x in path.read_text("utf-8").splitlines() if x]
    differ = [
        t for t in texts if enc.tokenizer.encode(enc.prompt + t) != full.encode(enc.prompt + t).ids
    ]
    assert len(texts) > 2000 and differ == []


# ---------------------------------------------------------------- no torch on the serving path

NO_TORCH = r"""
import json, sys
from fastapi.testclient import TestClient
from assistant import cli
from assistant.server import create_app
from assistant.service import get_service

svc = get_service()
ans = svc.answer(sys.argv[1])
hits = svc.search("低保", k=3)
for argv in (["ask", sys.argv[1]], ["search", "低保户看病"], ["eval", sys.argv[2], "--quiet"]):
    assert cli.main(argv) == 0, argv
client = TestClient(create_app(svc))  # the page too: ui.build_ui over the same service
r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "低保由哪个部门负责？"}]})
print(json.dumps({
    "citations": ans.citations, "degraded": ans.degraded, "hits": len(hits),
    "backend": svc.embeddings.query_backend, "vectors": svc.retriever.vectorstore is not None,
    "api": r.status_code, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in %r),
}))
"""


@pytest.mark.slow
def test_answering_never_imports_torch(service, tmp_path):
    """Service, CLI ask/search/eval, the API and the page in one fresh process: answered with
    vectors, and torch, transformers and sentence-transformers never imported."""
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {"id": "t1", "question": QUESTION, "answerable": True, "citations": ["清单-56"]},
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    env = dict(os.environ, POLICYQA_INDEX_DIR=str(service.settings.index_dir))
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH % (HEAVY,), QUESTION, str(questions)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["citations"] == ["清单-56"] and not out["degraded"] and out["hits"] == 3
    assert out["backend"] == "onnx" and out["vectors"] and out["api"] == 200
    assert out["loaded"] == []


def test_serve_builds_a_missing_or_stale_index_first(tmp_path):
    """`policyqa serve` decides from files alone whether `policyqa index` must run first."""
    import shutil

    from assistant.settings import get_settings
    from assistant.startup import index_is_current

    built = get_settings()
    if not index_is_current(built):
        pytest.skip("the default index is not built here")
    s = Settings(index_dir=tmp_path / "index")
    assert not index_is_current(s)  # nothing built there
    s.index_dir.mkdir()
    shutil.copy(built.index_dir / "manifest.json", s.index_dir / "manifest.json")
    assert index_is_current(s)
    stale = json.loads((s.index_dir / "manifest.json").read_text())
    stale["corpus_hash"] = "0" * 16
    (s.index_dir / "manifest.json").write_text(json.dumps(stale))
    assert not index_is_current(s)
    train = tmp_path / "train"
    train.mkdir()
    (train / "one.jsonl").write_text('{"id": "x", "question": "新问题", "answerable": true}\n')
    shutil.copy(built.index_dir / "manifest.json", s.index_dir / "manifest.json")
    assert not index_is_current(s.model_copy(update={"train_dir": train}))  # votes not built


# ---------------------------------------------------------------- start-up: token tables


def test_a_start_reads_the_tokens_the_last_start_saved(tmp_path, monkeypatch):
    """The serving start-up keeps a table of the tokens it cut (the passages BM25 indexes,
    the records' names): the next start with the same vocabulary and code reads them, cut by
    nobody, the same tokens; another vocabulary or a damaged table cuts again."""
    from assistant import text

    # the second as a passage is written: full-width punctuation, which the cut folds first
    vocab, texts = (
        ["孤儿养育保障", "低保"],
        ["散居孤儿每个月生活费多少", "低保（最低生活保障），由民政部门负责。"],
    )
    text.keep_token_tables(tmp_path)
    first = text.Tokenizer(vocab)
    want = [first.tokens(t) for t in texts]
    text.save_token_tables()
    [table] = tmp_path.glob("tokens-*.pkl")

    def no_cutting(_):
        raise AssertionError("cut again")

    text.keep_token_tables(tmp_path)
    second = text.Tokenizer(vocab)
    monkeypatch.setattr(second._jieba, "lcut_for_search", no_cutting)
    assert [second.tokens(t) for t in texts] == want and want[0]
    other = text.Tokenizer(["孤儿"])  # another vocabulary: another table
    assert other._saved == {} and other.tokens(texts[0])
    text.save_token_tables()
    assert len(list(tmp_path.glob("tokens-*.pkl"))) == 2

    later = text.Tokenizer(vocab)  # after the start: no table read, nothing noted
    assert later._saved == {} and later._new is None
    table.write_bytes(b"not a pickle")
    text.keep_token_tables(tmp_path)
    damaged = text.Tokenizer(vocab)
    assert damaged._saved == {} and [damaged.tokens(t) for t in texts] == want
    text.save_token_tables()


# ---------------------------------------------------------------- workers (BM25-only: fast)


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    from assistant.workers import PoolService, WorkerPool

    tmp = tmp_path_factory.mktemp("pool")
    s = Settings(index_dir=tmp / "index", feedback_db=tmp / "feedback.sqlite3")
    svc = PoolService(s, WorkerPool(s, 2, vectors=False))
    yield svc
    svc.close()


def _ready(svc, n: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = svc.health()
        if h["workers"]["ready"] == n:
            return h
        time.sleep(0.1)
    raise AssertionError(f"workers not ready: {svc.health()}")


def test_workers_answer_as_the_service_does_and_a_killed_one_is_replaced(pooled, bm25_service):
    h = _ready(pooled, 2)
    assert h["status"] == "ok" and len(set(h["workers"]["pids"])) == 2
    got = pooled.answer(QUESTION)
    want = bm25_service.answer(QUESTION)
    assert (got.text, got.citations) == (want.text, want.citations)
    assert [x.id for x in pooled.search("低保", k=3)] == [
        x.id for x in bm25_service.search("低保", k=3)
    ]
    parts = list(pooled.stream(QUESTION))
    assert parts[-1][1].citations == want.citations

    victim = h["workers"]["pids"][0]
    os.kill(victim, signal.SIGKILL)
    for _ in range(6):  # every question answered meanwhile, by the other worker or the retry
        assert pooled.answer(QUESTION).citations == want.citations
    h = _ready(pooled, 2)
    assert victim not in h["workers"]["pids"]


def test_one_rate_limit_however_many_workers(pooled):
    """An app over the pool (the page's front, or an app embedding the pool) limits once:
    3 allowed in a burst, whichever worker answers. Workers that accept connections
    themselves share one limit too: tests/test_workers.py."""
    from fastapi.testclient import TestClient

    from assistant.server import create_app

    s = pooled.settings.model_copy(update={"rate_limit_rps": 0.001, "rate_limit_burst": 3})
    client = TestClient(create_app(pooled, s, with_page=False))
    body = {"messages": [{"role": "user", "content": QUESTION}]}
    codes = [client.post("/v1/chat/completions", json=body).status_code for _ in range(6)]
    assert codes == [200, 200, 200, 429, 429, 429]


def test_the_page_works_with_workers(pooled):
    from gradio_client import Client

    from assistant.server import create_app

    _ready(pooled, 2)
    with LiveServer(create_app(pooled, pooled.settings), free_port()) as srv:
        out = Client(srv.url + "/", verbose=False).predict(QUESTION, [], api_name="/ask")
    assert "清单第56项" in out["text"]


def test_a_held_pool_opens_nothing_until_released(tmp_path, bm25_service):
    """`policyqa serve` forks the workers first and checks the index meanwhile: until the
    front releases them they build what needs no index and answer nothing."""
    from assistant.workers import PoolService, WorkerPool

    s = Settings(index_dir=tmp_path / "index", feedback_db=tmp_path / "fb.sqlite3")
    svc = PoolService(s, WorkerPool(s, 2, vectors=False, hold=True))
    try:
        time.sleep(10)  # an unheld pool of BM25-only workers is ready in ~3 s
        assert svc.health()["workers"]["ready"] == 0
        svc.pool.release()
        _ready(svc, 2)
        assert svc.answer(QUESTION).citations == bm25_service.answer(QUESTION).citations
    finally:
        svc.close()


def _write_feedback(path: str, n: int) -> None:
    from assistant.feedback import FeedbackStore

    store = FeedbackStore(Path(path))
    for i in range(40):
        store.add("up", f"进程{n}-问题{i}", "答复", ["清单-56"])


def test_feedback_from_two_processes_loses_no_row(tmp_path):
    from assistant.feedback import FeedbackStore

    path = tmp_path / "fb.sqlite3"
    FeedbackStore(path)
    procs = [
        mp.get_context("spawn").Process(target=_write_feedback, args=(str(path), n))
        for n in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    rows = FeedbackStore(path).rows()
    assert len(rows) == 80 and len({r["question"] for r in rows}) == 80


def test_each_worker_runs_one_encoder_thread_unless_configured():
    """`--workers N` is one worker per core: N workers use N cores however many there are
    (one worker behind the front too); POLICYQA_TORCH_THREADS still decides when set."""
    from assistant.workers import worker_threads

    assert worker_threads(Settings()) == 1
    assert worker_threads(Settings(torch_threads=3)) == 3


def test_closing_a_pool_that_is_still_starting_leaves_no_thread_failing(tmp_path):
    import threading

    from assistant.workers import WorkerPool

    failed = []
    hook, threading.excepthook = threading.excepthook, failed.append
    try:
        s = Settings(index_dir=tmp_path / "index", feedback_db=tmp_path / "fb.sqlite3")
        pool = WorkerPool(s, 2, vectors=False)
        pool.close()  # the readers wait for the workers' first word: their pipes close under them
        time.sleep(0.5)
    finally:
        threading.excepthook = hook
    assert failed == []


NO_STUBS = r"""
import json, sys
from assistant.startup import _no_stub, skip_gradio_stub_writing

skip_gradio_stub_writing()
skip_gradio_stub_writing()  # twice: one hook
import gradio as gr
import gradio.component_meta as meta

with gr.Blocks() as demo:
    box = gr.Textbox(label="问题")
print(json.dumps({
    "patched": meta.create_or_modify_pyi is _no_stub,
    "hooks": sum(type(f).__name__ == "_NoGradioStubs" for f in sys.meta_path),
    "textbox": type(box).__name__,
}))
"""


def test_the_server_does_not_let_gradio_rewrite_its_type_stubs():
    """Gradio regenerates a .pyi beside each component module on every import (~40 % of its
    import time): the server's start-up turns that writer off, and Gradio still works."""
    out = subprocess.run(
        [sys.executable, "-c", NO_STUBS], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"patched": True, "hooks": 0, "textbox": "Textbox"}


# ---------------------------------------------------------------- real servers (slow)


def _serve(port: int, workers: int, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        start_new_session=True,
    )


def _post(port: int, question: str) -> tuple[int, dict]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"messages": [{"role": "user", "content": question}]}, ensure_ascii=False)
    c.request("POST", "/v1/chat/completions", body.encode(), {"content-type": "application/json"})
    r = c.getresponse()
    data = json.loads(r.read() or b"{}")
    c.close()
    return r.status, data


def _health(port: int) -> dict:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/healthz")
    out = json.loads(c.getresponse().read())
    c.close()
    return out


def _wait_answering(proc: subprocess.Popen, port: int, log: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            status, data = _post(port, QUESTION)
            if status == 200:
                return data
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(log.read_text()[-3000:])


def _tree(pid: int) -> list[int]:
    out = [pid]
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            if ppid == pid:
                out += _tree(int(p.name))
    return out


def _torch_mapped(pid: int) -> bool:
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _private_dirty_mb(pid: int) -> float:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return int(rollup.split("Private_Dirty:")[1].split()[0]) / 1024


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
def test_two_workers_serve_without_torch_and_log_json_lines(service, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    env = dict(
        os.environ,
        POLICYQA_INDEX_DIR=str(service.settings.index_dir),
        POLICYQA_FEEDBACK_DB=str(tmp_path / "fb.sqlite3"),
    )
    proc = _serve(port, 2, env, log)
    try:
        first = _wait_answering(proc, port, log)
        assert first["policyqa"]["citations"] == ["清单-56"] and not first["policyqa"]["degraded"]
        deadline = time.monotonic() + 120
        while _health(port)["workers"]["ready"] < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        h = _health(port)
        assert h["status"] == "ok" and h["index_loaded"] and len(h["workers"]["pids"]) == 2
        tree = _tree(proc.pid)
        assert set(h["workers"]["pids"]) <= set(tree) and len(tree) == 3
        assert [p for p in tree if _torch_mapped(p)] == []
        for q in ("低保由哪个部门负责？", "残疾人两项补贴标准是多少", "孤儿养育保障 牵头单位"):
            assert _post(port, q)[0] == 200
        # what each worker holds alone: the template built the encoder's session, the neighbour
        # vectors and the Chroma client's modules before forking (64 MB a worker when they were
        # built after the fork; ~25 MB now: its Chroma client and what its answers wrote)
        private = {pid: _private_dirty_mb(pid) for pid in h["workers"]["pids"]}
        assert all(mb < 45 for mb in private.values()), private
    finally:
        _stop(proc)
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # every line whole: no two processes interleaved
    assert sum(r.get("path") == "/v1/chat/completions" for r in records) >= 4


@pytest.mark.slow
def test_two_servers_share_one_chroma_server(tmp_path):
    """Two replicas as behind a load balancer: one index on a `chroma run` server, built once
    by `policyqa index`, answered from by both, torch in neither."""
    chroma_port = free_port()
    chroma = start_chroma(tmp_path / "chroma", chroma_port)
    env = dict(
        os.environ,
        POLICYQA_CHROMA_URL=f"http://127.0.0.1:{chroma_port}",
        POLICYQA_INDEX_DIR=str(tmp_path / "unused"),
        POLICYQA_FEEDBACK_DB=str(tmp_path / "fb.sqlite3"),
    )
    servers = []
    try:
        built = subprocess.run(
            [sys.executable, "-m", "assistant.cli", "index"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert built.returncode == 0, built.stderr[-3000:]
        for n in range(2):
            port, log = free_port(), tmp_path / f"replica{n}.log"
            servers.append((_serve(port, 1, env, log), port, log))
        answers = [_wait_answering(p, port, log) for p, port, log in servers]
        assert [a["policyqa"]["citations"] for a in answers] == [["清单-56"], ["清单-56"]]
        assert not any(a["policyqa"]["degraded"] for a in answers)
        manifests = [_health(port)["manifest"] for _, port, _ in servers]
        assert manifests[0] == manifests[1] and manifests[0]["chunks"] > 300
        assert [p for proc, _, _ in servers for p in _tree(proc.pid) if _torch_mapped(p)] == []
        import chromadb

        client = chromadb.HttpClient(host="127.0.0.1", port=chroma_port)
        cols = client.list_collections()
        assert len(cols) == 1 and cols[0].count() == manifests[0]["chunks"]
        assert not (tmp_path / "unused").exists()  # nothing was built locally
    finally:
        for proc, _, _ in servers:
            _stop(proc)
        chroma.terminate()
        chroma.wait(timeout=30)


SHARED_SESSION = r"""
import json, os, re, sys
from pathlib import Path
from assistant import onnx_query
from assistant.workers import _open_shared_session

def private_kb():
    t = Path("/proc/self/smaps_rollup").read_text()
    return sum(int(x) for x in re.findall(r"Private_(?:Clean|Dirty):\s+(\d+)", t))

class Emb:  # what the template holds: embeddings with a query encoder
    query_encoder = onnx_query.load(Path(sys.argv[1]), threads=int(sys.argv[2]))

_open_shared_session(Emb, int(sys.argv[2]))
opened = Emb.query_encoder._session is not None
r, w = os.pipe()
if os.fork() == 0:
    before = private_kb()
    vec = Emb.query_encoder.encode(sys.argv[3])
    os.write(w, json.dumps({"vec": vec.tolist(), "grew_kb": private_kb() - before}).encode())
    os._exit(0)
os.close(w)
child = json.loads(os.read(r, 1 << 20).decode())
os.wait()
want = Emb.query_encoder.encode(sys.argv[3]).tolist()
print(json.dumps({"opened": opened, "same": child["vec"] == want, "grew_kb": child["grew_kb"]}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2])
def test_one_thread_workers_share_the_encoder_opened_before_the_fork(service, threads):
    """With one encoder thread a worker's session is opened in the template: a fork answers with
    the same vector and copies little (a session of its own would cost ~100 MB); with two
    threads (a thread pool, which a fork would not carry) each worker opens its own."""
    bundle = str(service.embeddings.query_encoder.path)
    out = subprocess.run(
        [sys.executable, "-c", SHARED_SESSION, bundle, str(threads), QUESTION],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["same"] and got["opened"] == (threads == 1)
    if threads == 1:
        assert got["grew_kb"] < 40_000, got  # the weights stayed shared
    else:
        assert got["grew_kb"] > 60_000, got  # its own session: the weights copied in


def test_typo_readings_never_load_the_phrase_dictionary():
    """The typo finder reads single characters only: pypinyin's phrase dictionary (~40 MB in
    every server) stays unloaded, and typos are still found in a fresh process."""
    code = (
        "import sys, json\n"
        "from assistant.text import Homophones\n"
        "h = Homophones({'低保', '残疾人', '公租房', '银行'})\n"
        "got = [h.corrections(t) for t in ('底保咋申请', '残急人补贴', '公祖房', '银行卡')]\n"
        "print(json.dumps([got, 'pypinyin.phrases_dict' in sys.modules,"
        " 'pypinyin' in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPINYIN")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    got, phrases, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == [["低保"], ["残疾人"], ["公租房"], []]
    assert loaded and not phrases
