"""Load benchmark on loopback: 1 answer process against N, side by side in one run.

    .venv/bin/python eval/bench_load.py [--workers 1,2] [--clients 1,50] [--duration 30]
                                        [--page-users 10] [--rounds 1]

For each worker count (in turn, and in reverse order again for every extra round) it starts
`policyqa serve --workers W` on a free 127.0.0.1 port and measures:

- start to first answer: from launching the command to the first API answer (a new question);
- idle memory once every worker is ready: RSS of each process of the server, their sum, and the
  sum of PSS (shared pages counted once: forked workers share the template's pages);
- API load with 1 and with 50 concurrent clients for a fixed time: answers/s, p50/p95 latency,
  errors (any non-200 reply, malformed body or exception);
- the page: gradio_client users calling the page's `/ask` endpoint (the Gradio queue);
- memory again after the load.

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
import threading
import time
from pathlib import Path

import numpy as np

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


def start_server(
    workers: int, port: int, questions: Questions, threads: int | None = None
) -> tuple[subprocess.Popen, float]:
    """Launch `policyqa serve`; (process, seconds from launch to the first answer).
    ``threads``: CPU threads of each worker's query encoder (default: cores / workers)."""
    env = dict(
        os.environ,
        POLICYQA_RATE_LIMIT_RPS="100000",
        POLICYQA_RATE_LIMIT_BURST="100000",
        POLICYQA_QUEUE_SIZE="512",
    )
    if threads:
        env["POLICYQA_TORCH_THREADS"] = str(threads)
    exe = Path(sys.executable).parent / "policyqa"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
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
        time.sleep(0.05)
    stop_server(proc)
    raise SystemExit("no answer within 300 s")


def wait_all_ready(port: int, workers: int, timeout: float = 120) -> None:
    if workers == 1:
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
    """RSS per process (MB), their sum, and the sum of PSS (shared pages divided)."""
    rss, pss = [], 0.0
    for p in process_tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        rss.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
        pss += int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1)) / 1024
    return {
        "rss_mb": [round(x) for x in rss],
        "rss_sum_mb": round(sum(rss)),
        "rss_max_mb": round(max(rss)) if rss else 0,
        "pss_sum_mb": round(pss),
    }


# ---------------------------------------------------------------- load


def summarize(name: str, lat: list[float], errors: int, seconds: float) -> dict:
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


def api_load(port: int, clients: int, duration: float, questions: Questions) -> dict:
    return run_clients(
        f"API, {clients} client{'s' if clients > 1 else ''}",
        clients,
        duration,
        lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=120),
        lambda conn, q: ask(port, q, conn),
        questions,
    )


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


def bench(config: str, args) -> dict:
    """One server: `W` workers, or `W/T` with T encoder threads per worker."""
    workers, _, threads = config.partition("/")
    workers = int(workers)
    questions = Questions(seed=args.seed)  # the same sequence for every server
    port = free_port()
    proc, first = start_server(workers, port, questions, int(threads) if threads else None)
    try:
        wait_all_ready(port, workers)
        time.sleep(2)
        idle = memory(proc.pid)
        runs = [api_load(port, c, args.duration, questions) for c in args.clients]
        if args.page_users:
            runs.append(page_load(port, args.page_users, args.duration, questions))
        after = memory(proc.pid)
    finally:
        stop_server(proc)
    return {
        "workers": config,
        "start_to_first_answer_s": round(first, 2),
        "idle": idle,
        "after_load": after,
        "runs": runs,
    }


def cli_first_answer(questions: Questions) -> float:
    """`policyqa ask` from launch to printed answer (one process, nothing warm)."""
    exe = Path(sys.executable).parent / "policyqa"
    t0 = time.perf_counter()
    subprocess.run([str(exe), "ask", questions.next()], check=True, capture_output=True)
    return round(time.perf_counter() - t0, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--workers",
        default=f"1,{os.cpu_count() or 2}",
        help="servers to compare: worker counts, W/T for T encoder threads per worker (1/1,1,2)",
    )
    ap.add_argument("--clients", default="1,50", help="concurrent API clients, e.g. 1,50")
    ap.add_argument("--duration", type=float, default=30, help="seconds per load")
    ap.add_argument("--page-users", type=int, default=10, help="page users (0: no page load)")
    ap.add_argument("--rounds", type=int, default=1, help="extra rounds run in reverse order")
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()
    args.clients = [int(x) for x in args.clients.split(",")]
    order = args.workers.split(",")
    load = os.getloadavg()
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load],
        "cli_ask_s": cli_first_answer(Questions(seed=args.seed + 1)),
        "servers": [],
    }
    for r in range(args.rounds):
        for w in order if r % 2 == 0 else order[::-1]:
            print(f"-- {w} worker(s), round {r + 1}", file=sys.stderr)
            results["servers"].append(bench(w, args))
    results["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    out = ROOT / "eval" / "reports" / "load.json"
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
    print("| workers | start → first answer | idle RSS (per process; sum; PSS sum) | after load |")
    print("|---|---|---|---|")
    for s in results["servers"]:
        i, a = s["idle"], s["after_load"]
        print(
            f"| {s['workers']} | {s['start_to_first_answer_s']} s | {i['rss_mb']}; "
            f"{i['rss_sum_mb']}; {i['pss_sum_mb']} MB | {a['rss_mb']}; {a['rss_sum_mb']}; "
            f"{a['pss_sum_mb']} MB |"
        )
    print()
    print("| workers | load | answers | errors | answers/s | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for s in results["servers"]:
        for r in s["runs"]:
            print(
                f"| {s['workers']} | {r['name']} | {r['requests'] - r['errors']} | {r['errors']} | "
                f"{r['answers_per_s']} | {r['p50_ms']} | {r['p95_ms']} |"
            )


if __name__ == "__main__":
    main()
