"""Workers that accept connections themselves (`policyqa serve --workers N`): the rate limit
shared by the processes, the page through whichever worker a connection reaches, a worker
lost and replaced, no worker outliving its front. BM25-only workers: fast."""

from __future__ import annotations

import fcntl
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.server import SharedTokenBucket, TokenBucket

from .conftest import free_port

QUESTION = "散居孤儿每个月生活费多少？"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- the shared bucket


def test_the_shared_bucket_limits_as_the_one_process_bucket_does(tmp_path):
    """Same waits, call for call, over a random sequence of clients and times."""
    clock = Clock()
    shared = SharedTokenBucket(tmp_path / "b", rate=2.0, burst=3, slots=64, clock=clock)
    alone = TokenBucket(rate=2.0, burst=3, clock=clock)
    rnd = random.Random(14)
    for _ in range(2000):
        clock.now += rnd.choice([0.0, 0.0, 0.05, 0.3, 1.0, 5.0])
        client = f"10.0.0.{rnd.randint(1, 6)}"
        assert shared.take(client) == pytest.approx(alone.take(client))


def _take_many(path: str, client: str, n: int, out) -> None:
    bucket = SharedTokenBucket(Path(path), rate=0.001, burst=5)
    out.put(sum(bucket.take(client) == 0 for _ in range(n)))


def test_one_bucket_per_client_across_processes(tmp_path):
    path = tmp_path / "b"
    SharedTokenBucket(path, rate=0.001, burst=5)  # as the front creates it
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_take_many, args=(str(path), "1.2.3.4", 4, out)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    allowed = sum(out.get(timeout=10) for _ in procs)
    assert allowed == 5  # 12 asked in three processes; one bucket of 5
    assert SharedTokenBucket(path, rate=0.001, burst=5).take("5.6.7.8") == 0  # another client


def _hold_the_lock(path: str, ready) -> None:
    with open(path, "r+b") as fh:
        fcntl.lockf(fh, fcntl.LOCK_EX)
        ready.set()
        time.sleep(600)


def test_a_process_killed_holding_the_lock_does_not_stop_the_others(tmp_path):
    path = tmp_path / "b"
    bucket = SharedTokenBucket(path, rate=1.0, burst=2)
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_the_lock, args=(str(path), ready))
    holder.start()
    assert ready.wait(30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(timeout=30)
    t0 = time.monotonic()
    assert bucket.take("1.2.3.4") == 0
    assert time.monotonic() - t0 < 2


def test_a_flood_of_other_addresses_does_not_free_a_limited_client(tmp_path):
    """The table is bounded: when every probed slot holds a bucket, the fullest gives way, so
    an emptied bucket (the client being limited) outlives thousands of one-off addresses."""
    clock = Clock()
    bucket = SharedTokenBucket(tmp_path / "b", rate=0.001, burst=3, slots=32, clock=clock)
    assert [bucket.take("9.9.9.9") for _ in range(3)] == [0, 0, 0]
    assert bucket.take("9.9.9.9") > 0
    for i in range(3000):
        assert bucket.take(f"10.{i // 250}.{i % 250}.1") == 0  # each new: allowed
    assert bucket.take("9.9.9.9") > 0


# ---------------------------------------------------------------- a real server

SERVER = r"""
import sys
from assistant.server import configure_logging, serve_pool
from assistant.settings import Settings

port, tmp, workers = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
configure_logging()
s = Settings(index_dir=tmp + "/index", feedback_db=tmp + "/fb.sqlite3", rate_limit_rps=0.001,
             rate_limit_burst=3)
serve_pool(s, workers, "127.0.0.1", port, vectors=False, prepare=False)
"""


class Server:
    def __init__(self, tmp: Path, workers: int = 2):
        self.port, self.log = free_port(), tmp / "serve.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.port), str(tmp), str(workers)],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
            start_new_session=True,
        )

    def health(self) -> dict:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("GET", "/healthz")
            return json.loads(c.getresponse().read())
        finally:
            c.close()

    def ready(self, n: int, timeout: float = 180, besides: set | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                h = self.health()
                pids = set(h["workers"]["pids"])
                if len(pids) == n and not (besides and pids & besides):
                    return h
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise AssertionError(self.log.read_text()[-3000:])

    def ask(self, source: str, question: str = QUESTION) -> tuple[int, str]:
        """One API question on a new connection from `source` (a 127.x address: the rate
        limit counts per client address). (status, request id)."""
        c = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=60, source_address=(source, 0)
        )
        body = json.dumps({"messages": [{"role": "user", "content": question}]}).encode()
        try:
            c.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
            r = c.getresponse()
            r.read()
            return r.status, r.getheader("x-request-id")
        finally:
            c.close()

    def logged(self) -> dict[str, dict]:
        lines = [json.loads(x) for x in self.log.read_text().splitlines() if x.strip()]
        return {r["request_id"]: r for r in lines if r.get("msg") == "request"}

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("serve"))
    try:
        srv.ready(2)
        yield srv
    finally:
        srv.stop()


def test_api_requests_spread_over_the_workers_share_one_rate_limit(server):
    """Connections reach both workers (each listens on the port), and one client gets one
    bucket of 3 however its requests are spread: 3 answered, then 429s."""
    statuses, ids = [], []
    for _ in range(40):
        status, rid = server.ask("127.0.0.2")
        statuses.append(status)
        ids.append(rid)
        time.sleep(0.05)  # the log line is written after the reply
        logged = server.logged()
        if len({logged[r]["pid"] for r in ids if r in logged}) == 2 and len(ids) >= 8:
            break
    assert statuses[:3] == [200, 200, 200] and set(statuses[3:]) == {429}
    logged = server.logged()
    assert len({logged[r]["pid"] for r in ids}) == 2  # both workers answered this client
    assert {logged[r]["status"] for r in ids} == {200, 429}


def test_the_page_works_through_any_worker(server):
    """The page (Gradio, one process: the front) through the workers: the page itself, an
    answer over Gradio's queue and its event stream, from new connections each time."""
    from gradio_client import Client

    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    c.request("GET", "/")
    r = c.getresponse()
    page = r.read().decode()
    c.close()
    assert r.status == 200 and "<html" in page.lower()
    for _ in range(2):
        out = Client(f"http://127.0.0.1:{server.port}/", verbose=False).predict(
            QUESTION, [], api_name="/ask"
        )
        assert "清单第56项" in out["text"]


def test_a_killed_worker_is_replaced_and_the_other_answers_meanwhile(server):
    h = server.ready(2)
    victim = h["workers"]["pids"][-1]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.5)
    for n in range(6):  # new connections go to the sockets still listening
        assert server.ask(f"127.0.1.{n + 1}")[0] == 200
    assert server.health()["status"] in {"degraded", "ok"}
    h = server.ready(2, besides={victim})
    assert h["status"] == "ok"
    assert server.ask("127.0.2.1")[0] == 200


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in state  # ended, not yet reaped by init


def test_workers_exit_when_the_front_is_killed(tmp_path):
    """SIGKILL leaves the front no time to stop anything: each worker notices by itself."""
    srv = Server(tmp_path)
    try:
        pids = srv.ready(2)["workers"]["pids"]
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(_gone(p) for p in pids):
            time.sleep(0.1)
        assert [p for p in pids if not _gone(p)] == []
    finally:
        srv.stop()


WATCHER = r"""
import sys, time
from assistant.workers import watch_front

watch_front(int(sys.argv[1]))
print("watching", flush=True)
time.sleep(600)
"""


def test_the_watcher_ends_its_process_when_the_front_dies():
    """The watch alone (no pipe that would close): a process whose front is SIGKILLed exits."""
    front = subprocess.Popen(["sleep", "600"])
    worker = subprocess.Popen(
        [sys.executable, "-c", WATCHER, str(front.pid)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout.readline().strip() == "watching"
        time.sleep(0.5)
        assert worker.poll() is None  # the front lives: the worker stays
        front.kill()
        front.wait()
        assert worker.wait(timeout=10) == 0
    finally:
        for p in (front, worker):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_a_stopped_server_stops_its_workers_and_removes_its_folder(tmp_path):
    """SIGTERM (a service manager's stop): the front stops the workers and removes its private
    folder (the page's socket, the shared tables), though uvicorn raises the signal again."""
    import tempfile

    root = Path(tempfile.gettempdir())
    before = set(root.glob("policyqa-serve-*"))
    srv = Server(tmp_path)
    try:
        pids = srv.ready(2)["workers"]["pids"]
        deadline = time.monotonic() + 120  # the page's socket: once the front has built it
        while time.monotonic() < deadline:
            new = set(root.glob("policyqa-serve-*")) - before
            ours = [d for d in new if (d / "page.sock").exists()]
            if ours:
                break
            time.sleep(0.2)
        assert ours
        os.kill(srv.proc.pid, signal.SIGTERM)
        assert srv.proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(_gone(p) for p in pids):
            time.sleep(0.1)
        assert [p for p in pids if not _gone(p)] == []
        assert [d for d in ours if d.exists()] == []
    finally:
        srv.stop()
