"""Load benchmark on loopback: one process, one worker behind the front, N workers, side by side.

    .venv/bin/python eval/bench_load.py [--workers 1,p1,2] [--clients 1,50] [--duration 30]
                                        [--page-users 10] [--rounds 1] [--before DIR]
    .venv/bin/python eval/bench_load.py --starts 5 [--workers …] [--before DIR]

For each server (see `Server`: `1` one process, `pW` a front and W workers, `W/T` with T encoder
threads per worker, `before:…` the same from the source tree DIR, e.g. `git archive` of the
commit before a change; in turn, and in reverse order again for every extra round) it starts
the server on a free 127.0.0.1 port and measures:

- start to first answer: from launching the command to the first API answer (a new question);
- idle memory once every worker is ready: RSS and PSS of each process of the server and their
  sums (PSS counts a page shared by forked workers once: the honest whole-server figure);
- API load with 1 and with 50 concurrent clients for a fixed time: answers/s, p50/p95 latency,
  errors (any non-200 reply, malformed body or exception), and the CPU seconds of every process
  (front, each worker, the load generator) over the load, per answer. The load generator is a
  separate process with one thread: an event loop over kept-alive connections, its requests
  encoded before the clock starts;
- the page: gradio_client users calling the page's `/ask` endpoint (the Gradio queue);
- memory again after the load.

`--starts N` measures only start to first answer, N times per server, alternating (written to
eval/reports/load-starts.json).

Every question is new to the server: questions from the training sets (eval/train/*.jsonl) are
combined with openings, situations and endings (`novel_questions`), never repeated within a
server's life, so every answer embeds its question (the query-vector cache never hits) as a
citizen's new question does. Each server gets the same sequence. All clients share one address,
so the per-client rate limit is raised for the run (the limiter is tested in tests/test_api.py).
Results: a table on stdout and eval/reports/load.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

OPENINGS = [
    "",
    "",
    "请问",
    "请问一下，",
    "你好，",
    "您好，",
    "麻烦问下，",
    "咨询一下：",
    "想了解下，",
    "打扰一下，",
]
SITUATIONS = [
    "",
    "",
    "",
    "我是章丘区的，",
    "我家在历下区，",
    "我们住在天桥区，",
    "俺是长清农村的，",
    "我在莱芜上班，",
    "我今年{n}岁，",
    "我母亲{n}岁了，",
    "家里有{k}个孩子，",
    "我是外地来济南打工的，",
    "我刚退休，",
]
ENDINGS = [
    "",
    "",
    "",
    "谢谢",
    "，谢谢！",
    "？",
    "，急！",
    "，在哪里办？",
    "，麻烦告诉我。",
    "，找谁问？",
]


def training_questions() -> list[str]:
    out = []
    for path in sorted((ROOT / "eval" / "train").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if not row.get("history"):  # a follow-up means little without its history
                    out.append(row["question"])
    return out


def novel_questions(seed: int = 14):
    """An endless stream of questions, none repeated: a training question with an opening, a
    situation and an ending drawn at random (ages and counts vary too)."""
    rnd = random.Random(seed)
    base = training_questions()
    seen: set[str] = set()
    while True:
        q = rnd.choice(base)
        situation = rnd.choice(SITUATIONS).format(n=rnd.randint(18, 95), k=rnd.randint(1, 4))
        text = f"{rnd.choice(OPENINGS)}{situation}{q.rstrip('？?。')}{rnd.choice(ENDINGS)}"
        if text not in seen:
            seen.add(text)
            yield text


class Questions:
    """A thread-safe view of one stream: every call returns the next question."""

    def __init__(self, seed: int = 14):
        self._it = novel_questions(seed)
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return next(self._it)


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port: int, question: str, conn: http.client.HTTPConnection | None = None, timeout=60):
    """One API answer: True when it is a well-formed chat completion."""
    body = json.dumps(
        {"model": "policyqa", "messages": [{"role": "user", "content": question}]},
        ensure_ascii=False,
    ).encode()
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            return False
        return bool(json.loads(data)["choices"][0]["message"]["content"])
    finally:
        if conn is None:
            c.close()


def start_server(config: Server, port: int, questions: Questions) -> tuple[subprocess.Popen, float]:
    """Launch the server; (process, seconds from launch to the first answer)."""
    env = dict(
        os.environ,
        PYTHONPATH=str(config.tree),
        POLICYQA_RATE_LIMIT_RPS="100000",
        POLICYQA_RATE_LIMIT_BURST="100000",
        POLICYQA_QUEUE_SIZE="512",
    )
    if config.threads:
        env["POLICYQA_TORCH_THREADS"] = str(config.threads)
    if config.pool:  # the front and its pool even for one worker: see pool_main
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "pool",
            str(port),
            str(config.workers),
        ]
    else:
        cmd = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(port), "--workers", str(config.workers)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=config.tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped as a whole below
    )
    question = questions.next()
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if ask(port, question, timeout=120):
                return proc, time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.02)
    stop_server(proc)
    raise SystemExit("no answer within 300 s")


def wait_all_ready(port: int, workers: int, timeout: float = 120) -> None:
    """Until /healthz counts `workers` ready answer processes (0: one process, nothing to wait)."""
    if not workers:
        return
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/healthz")
        h = json.loads(c.getresponse().read())
        c.close()
        if h.get("workers", {}).get("ready") == workers:
            return
        time.sleep(0.2)
    raise SystemExit("workers did not all start")


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def process_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory(pid: int) -> dict:
    """RSS and PSS of each process (MB; PSS divides a shared page among the processes that map
    it, so their sum counts it once: the honest figure for forked workers), and their sums."""
    rss, pss = [], []
    for p in process_tree(pid):
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        rss.append(int(re.search(r"^Rss:\s+(\d+)", rollup, re.M).group(1)) / 1024)
        pss.append(int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1)) / 1024)
    return {
        "rss_mb": [round(x) for x in rss],
        "pss_mb": [round(x) for x in pss],
        "rss_sum_mb": round(sum(rss)),
        "pss_sum_mb": round(sum(pss)),
    }


# ---------------------------------------------------------------- load


def summarize(name: str, lat: list[float], errors: int, seconds: float) -> dict:
    import numpy as np  # not at the top: pool_main limits BLAS threads before numpy loads

    ok = len(lat)
    return {
        "name": name,
        "requests": ok + errors,
        "errors": errors,
        "answers_per_s": round(ok / seconds, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if lat else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 1) if lat else None,
        "seconds": round(seconds, 1),
    }


def run_clients(name: str, n: int, duration: float, make_client, call, questions) -> dict:
    """n threads, each with its own client, asking new questions until time is up."""
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(n + 1)
    stop = [0.0]

    def worker() -> None:
        client = None
        try:
            client = make_client()
        except Exception:
            with lock:
                errors[0] += 1
        start.wait()
        while time.perf_counter() < stop[0]:
            q = questions.next()
            t0 = time.perf_counter()
            try:
                good = client is not None and bool(call(client, q))
            except Exception:
                good = False
                client = _reconnect(make_client)
            with lock:
                if good:
                    lat.append((time.perf_counter() - t0) * 1000)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    stop[0] = t0 + duration
    start.wait()
    for t in threads:
        t.join()
    return summarize(name, lat, errors[0], time.perf_counter() - t0)


def _reconnect(make_client):
    try:
        return make_client()
    except Exception:
        return None


def api_load(
    port: int, clients: int, duration: float, questions: Questions, server_pid: int
) -> dict:
    """`clients` concurrent API clients in a separate process (`client` below: one thread, an
    event loop, kept-alive connections, requests encoded before the clock starts), so the
    load generator costs little and its cost is measured: CPU seconds of the client and of
    every server process over the load, and per answer."""
    name = f"API, {clients} client{'s' if clients > 1 else ''}"
    bodies = [questions.next() for _ in range(int(duration * 400) + 500)]  # > any rate here
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(bodies, fh, ensure_ascii=False)
    cmd = [sys.executable, __file__, "client", str(port), str(clients), str(duration), fh.name]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "start"
        before = cpu_seconds(server_pid)
        assert proc.stdout.readline().strip() == "stop"
        after = cpu_seconds(server_pid)
        result = json.loads(proc.stdout.readline())
        proc.wait(timeout=120)
    finally:
        os.unlink(fh.name)
        if proc.poll() is None:
            proc.kill()
    out = summarize(name, result["latencies_ms"], result["errors"], result["seconds"])
    answers = max(1, out["requests"] - out["errors"])
    procs = {
        role: round(after[pid][1] - before[pid][1], 2)
        for pid, (role, _) in after.items()
        if pid in before
    }
    procs["client"] = round(result["cpu_s"], 2)
    out["cpu_s"] = procs
    out["cpu_ms_per_answer"] = {k: round(v * 1000 / answers, 1) for k, v in procs.items()}
    out["server_cpu_ms_per_answer"] = round(
        sum(v for k, v in procs.items() if k != "client") * 1000 / answers, 1
    )
    return out


def cpu_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """pid -> (role, user + system CPU seconds) for every process of a server: the front (or
    the one process) first, then its workers."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    tree = process_tree(pid)
    for n, p in enumerate(tree):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        role = ("front" if len(tree) > 1 else "server") if n == 0 else f"worker {n}"
        out[p] = (role, (int(fields[11]) + int(fields[12])) / tick)
    return out


def client_main(port: int, clients: int, duration: float, path: str) -> None:
    """The load generator's process: prints "start", "stop" (when time is up) and the result."""
    bodies = [_request(port, q) for q in json.loads(Path(path).read_text(encoding="utf-8"))]
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        import asyncio

        run = asyncio.run
    print(json.dumps(run(_client_load(port, clients, duration, bodies))), flush=True)


def _request(port: int, question: str) -> bytes:
    body = json.dumps(
        {"model": "policyqa", "messages": [{"role": "user", "content": question}]},
        ensure_ascii=False,
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client_load(port: int, clients: int, duration: float, bodies: list[bytes]) -> dict:
    import asyncio
    import resource

    lat: list[float] = []
    errors = 0
    it = iter(bodies)
    connections = []
    for _ in range(clients):
        try:
            connections.append(await asyncio.open_connection("127.0.0.1", port))
        except OSError:
            errors += 1
    print("start", flush=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    stop = t0 + duration

    async def one(conn) -> None:
        nonlocal errors
        reader, writer = conn
        while time.perf_counter() < stop:
            body = next(it)
            t = time.perf_counter()
            try:
                writer.write(body)
                good = await _read_answer(reader)
            except (OSError, ValueError, asyncio.IncompleteReadError):
                good = False
                writer.close()
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    errors += 1
                    return
            if good:
                lat.append((time.perf_counter() - t) * 1000)
            else:
                errors += 1

    async def timer() -> None:
        await asyncio.sleep(max(0.0, stop - time.perf_counter()))
        print("stop", flush=True)

    await asyncio.gather(timer(), *(one(c) for c in connections))
    seconds = time.perf_counter() - t0
    end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = end.ru_utime + end.ru_stime - usage.ru_utime - usage.ru_stime
    return {"latencies_ms": lat, "errors": errors, "seconds": seconds, "cpu_s": cpu}


async def _read_answer(reader) -> bool:
    """One HTTP/1.1 response: True when it is a 200 with a chat completion's answer."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(ln.lower().split(": ", 1) for ln in lines[1:] if ": " in ln)
    if "content-length" in headers:
        data = await reader.readexactly(int(headers["content-length"]))
    else:  # chunked
        data = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            data += chunk[:-2]
    if status != 200:
        return False
    return bool(json.loads(data)["choices"][0]["message"]["content"])


def page_load(port: int, users: int, duration: float, questions: Questions) -> dict:
    from gradio_client import Client

    def call(client, q: str):
        out = client.predict(q, [], api_name="/ask")
        return isinstance(out, dict) and out.get("text")

    return run_clients(
        f"page /ask, {users} users",
        users,
        duration,
        lambda: Client(f"http://127.0.0.1:{port}/", verbose=False),
        call,
        questions,
    )


@dataclass
class Server:
    """One server to measure: `policyqa serve --workers W` from a source tree.

    Written `W` (1: everything in one process; 2: a front and 2 workers), `pW` (a front and W
    workers even for W = 1, through pool_main), `W/T` (T encoder threads per worker), and
    `before:…` for the same from the tree given with --before (the code before a change)."""

    label: str
    tree: Path
    workers: int
    pool: bool  # launched through pool_main
    threads: int | None

    @property
    def front(self) -> bool:
        return self.pool or self.workers > 1

    @classmethod
    def parse(cls, text: str, before: Path | None) -> Server:
        tree = ROOT
        spec = text
        if spec.startswith("before:"):
            if before is None:
                raise SystemExit("before:… needs --before DIR")
            tree, spec = before, spec.removeprefix("before:")
        spec, _, threads = spec.partition("/")
        pool = spec.startswith("p")
        workers = int(spec.removeprefix("p"))
        return cls(text, tree, workers, pool, int(threads) if threads else None)


def pool_main(port: int, workers: int) -> None:
    """`policyqa serve` with the pool also for one worker (a front and one answer process),
    which the command itself never runs (1 means one process): the same steps as
    assistant.server.serve, for comparing one worker behind the front with two."""
    import inspect

    from assistant import server

    if "front" in inspect.signature(server.serve).parameters:  # the serve of this tree
        server.serve(host="127.0.0.1", port=port, workers=workers, front=True)
        return
    # an older tree (--before) without it: its front and pool as its serve built them
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from assistant.server import configure_logging, create_app, proxy_options
    from assistant.settings import get_settings
    from assistant.startup import building_objects
    from assistant.workers import PoolService, WorkerPool

    try:  # as `policyqa serve` does (older trees, --before, do not have it)
        from assistant.startup import skip_gradio_stub_writing

        skip_gradio_stub_writing()
    except ImportError:
        pass
    settings = get_settings()
    configure_logging()
    service = PoolService(settings, WorkerPool(settings, workers))
    settings = settings.model_copy(update={"concurrency": max(settings.concurrency, workers)})
    import uvicorn

    with building_objects():
        app = create_app(service, settings=settings)
    try:
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            **proxy_options(settings),
        )
    finally:
        service.close()


def bench(config: Server, args) -> dict:
    questions = Questions(seed=args.seed)  # the same sequence for every server
    port = free_port()
    proc, first = start_server(config, port, questions)
    # CPU seconds each process spent until the first answer: unlike the wall time, little
    # changed by other programs on the machine (the critical path is front or template + fork)
    start_cpu = {role: round(sec, 2) for role, sec in cpu_seconds(proc.pid).values()}
    try:
        wait_all_ready(port, config.workers if config.front else 0)
        time.sleep(2)
        idle = memory(proc.pid)
        runs = [api_load(port, c, args.duration, questions, proc.pid) for c in args.clients]
        if args.page_users:
            runs.append(page_load(port, args.page_users, args.duration, questions))
        after = memory(proc.pid)
    finally:
        stop_server(proc)
    return {
        "server": config.label,
        "workers": config.workers,
        "front": config.front,
        "encoder_threads": config.threads,
        "start_to_first_answer_s": round(first, 2),
        "start_cpu_s": start_cpu,
        "loadavg": round(os.getloadavg()[0], 2),
        "idle": idle,
        "after_load": after,
        "runs": runs,
    }


def starts(order: list[Server], args) -> list[dict]:
    """Start to first answer only, each server in turn, `args.starts` times: the wall time, the
    CPU seconds of each process until then and the load average just before each start."""
    questions = Questions(seed=args.seed)
    out = []
    for r in range(args.starts):
        for config in order if r % 2 == 0 else order[::-1]:
            port = free_port()
            load = round(os.getloadavg()[0], 2)
            proc, first = start_server(config, port, questions)
            cpu = {role: round(sec, 2) for role, sec in cpu_seconds(proc.pid).values()}
            stop_server(proc)
            out.append(
                {"server": config.label, "seconds": round(first, 2), "cpu_s": cpu, "load": load}
            )
            print(f"-- {config.label}: {first:.2f} s at load {load}", file=sys.stderr)
            time.sleep(1)
    return out


def cli_first_answer(questions: Questions) -> float:
    """`policyqa ask` from launch to printed answer (one process, nothing warm)."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ask", questions.next()],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=True,
        capture_output=True,
    )
    return round(time.perf_counter() - t0, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--workers",
        default=f"1,p1,{os.cpu_count() or 2}",
        help="servers to compare (see Server): 1 one process, pW a front and W workers, "
        "W/T T encoder threads per worker, before:… from --before",
    )
    ap.add_argument("--before", type=Path, help="a source tree of the code before a change")
    ap.add_argument("--clients", default="1,50", help="concurrent API clients, e.g. 1,50")
    ap.add_argument("--duration", type=float, default=30, help="seconds per load")
    ap.add_argument("--page-users", type=int, default=10, help="page users (0: no page load)")
    ap.add_argument("--rounds", type=int, default=1, help="extra rounds run in reverse order")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument(
        "--starts",
        type=int,
        default=0,
        help="only start to first answer, this many times per server, alternating (no load)",
    )
    args = ap.parse_args()
    args.clients = [int(x) for x in args.clients.split(",")]
    order = [Server.parse(w, args.before) for w in args.workers.split(",")]
    load = os.getloadavg()
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load],
        "cli_ask_s": cli_first_answer(Questions(seed=args.seed + 1)),
        "before": str(args.before) if args.before else None,
        "servers": [],
    }
    if args.starts:
        results["starts"] = starts(order, args)
    for r in range(args.rounds if not args.starts else 0):
        for w in order if r % 2 == 0 else order[::-1]:
            print(f"-- {w.label}, round {r + 1}", file=sys.stderr)
            results["servers"].append(bench(w, args))
    results["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    out = ROOT / "eval" / "reports" / ("load-starts.json" if args.starts else "load.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print_table(results)


def print_table(results: dict) -> None:
    print(
        f"{results['date']}, {results['cpus']} CPUs, load average before "
        f"{results['loadavg_before']}, after {results['loadavg_after']}; "
        f"`policyqa ask` start to answer {results['cli_ask_s']} s"
    )
    print()
    if results.get("starts"):
        print("| server | start → first answer s (load) | CPU s per process until then |")
        print("|---|---|---|")
        for st in results["starts"]:
            cpu = ", ".join(f"{k} {v}" for k, v in st["cpu_s"].items())
            print(f"| {st['server']} | {st['seconds']} ({st['load']}) | {cpu} |")
        return
    print(
        "| server | start → first answer (CPU s per process) | idle RSS; PSS per process (sums)"
        " MB | after load |"
    )
    print("|---|---|---|---|")
    for s in results["servers"]:
        i, a = s["idle"], s["after_load"]
        cpu = ", ".join(f"{k} {v}" for k, v in s.get("start_cpu_s", {}).items())
        print(
            f"| {s['server']} | {s['start_to_first_answer_s']} s ({cpu}) | "
            f"{i['rss_mb']} ({i['rss_sum_mb']}); {i['pss_mb']} ({i['pss_sum_mb']}) | "
            f"{a['rss_mb']} ({a['rss_sum_mb']}); {a['pss_mb']} ({a['pss_sum_mb']}) |"
        )
    print()
    print("| server | load | answers | errors | answers/s | p50 ms | p95 ms | CPU ms per answer |")
    print("|---|---|---|---|---|---|---|---|")
    for s in results["servers"]:
        for r in s["runs"]:
            cpu = r.get("cpu_ms_per_answer")
            cpu = ", ".join(f"{k} {v}" for k, v in cpu.items()) if cpu else ""
            print(
                f"| {s['server']} | {r['name']} | {r['requests'] - r['errors']} | {r['errors']} |"
                f" {r['answers_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {cpu} |"
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["pool"]:
        pool_main(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1:2] == ["client"]:
        _, _, port, clients, duration, path = sys.argv
        client_main(int(port), int(clients), float(duration), path)
    else:
        main()
