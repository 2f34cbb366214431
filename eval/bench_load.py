"""Load benchmark on loopback: N concurrent API clients, then M gradio_client users.

    .venv/bin/python eval/bench_load.py [--duration 60] [--clients 50] [--gradio-users 20]

Starts `policyqa serve` in its own process on a free 127.0.0.1 port, waits for /healthz,
drives the load for a bounded time, prints a table and writes eval/reports/load.json.
Every request goes to 127.0.0.1 only. All clients share one IP, so the server's per-client
rate limit is raised for the run (POLICYQA_RATE_LIMIT_RPS); the limiter itself is tested in
tests/test_api.py.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "eval" / "questions" / "team-v1.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip() and "history" not in line
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        POLICYQA_RATE_LIMIT_RPS="100000",
        POLICYQA_RATE_LIMIT_BURST="100000",
        POLICYQA_QUEUE_SIZE="256",
    )
    exe = Path(sys.executable).parent / "policyqa"
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start within 180 s")


def summarize(name: str, lat: list[float], errors: int, seconds: float) -> dict:
    ok = len(lat)
    return {
        "name": name,
        "requests": ok + errors,
        "errors": errors,
        "throughput_rps": round(ok / seconds, 2),
        "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat else None,
        "latency_ms_p95": round(float(np.percentile(lat, 95)), 1) if lat else None,
        "seconds": round(seconds, 1),
    }


def run_clients(name: str, n: int, duration: float, make_client, call) -> dict:
    """n threads, each with its own client, calling `call(client, question)` until time is up."""
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.time() + duration

    def worker(k: int) -> None:
        try:
            client = make_client()
        except Exception:
            with lock:
                errors[0] += 1
            return
        i = k
        while time.time() < stop:
            q = QUESTIONS[i % len(QUESTIONS)]
            i += n
            t0 = time.perf_counter()
            try:
                good = bool(call(client, q))
            except Exception:
                good = False
            with lock:
                if good:
                    lat.append((time.perf_counter() - t0) * 1000)
                else:
                    errors[0] += 1

    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summarize(name, lat, errors[0], time.time() - t0)


def api_load(url: str, clients: int, duration: float) -> dict:
    import httpx

    def call(http, q: str):
        r = http.post(
            f"{url}/v1/chat/completions",
            json={"model": "policyqa", "messages": [{"role": "user", "content": q}]},
        )
        return r.status_code == 200 and r.json()["choices"][0]["message"]["content"]

    return run_clients(
        f"API, {clients} concurrent clients",
        clients,
        duration,
        lambda: httpx.Client(timeout=60),
        call,
    )


def gradio_load(url: str, users: int, duration: float) -> dict:
    from gradio_client import Client

    def call(client, q: str):
        out = client.predict(q, [], api_name="/ask")
        return isinstance(out, dict) and out.get("text")

    return run_clients(
        f"page (gradio_client), {users} users",
        users,
        duration,
        lambda: Client(url + "/", verbose=False),
        call,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--gradio-users", type=int, default=20)
    args = ap.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(port)
    try:
        results = [
            api_load(url, args.clients, args.duration),
            gradio_load(url, args.gradio_users, args.duration),
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = ROOT / "eval" / "reports" / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print("| load | requests | errors | throughput (req/s) | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['name']} | {r['requests']} | {r['errors']} | {r['throughput_rps']} | "
            f"{r['latency_ms_p50']} | {r['latency_ms_p95']} |"
        )


if __name__ == "__main__":
    main()
