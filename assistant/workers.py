"""`policyqa serve --workers N`: N answer processes accept the connections; one front.

The front holds the port and forks the workers; each listens on it with SO_REUSEPORT (the
kernel spreads new connections over their sockets) and serves the API itself: no process
stands between a client and the worker that answers it. The rate limits are shared by the workers
(server.SharedTokenBucket: a table in a mapped file), the request logs are one JSON line per
write from each process, `/healthz` reports every worker (a small mapped status table). The
page is served by the front alone, because Gradio keeps a page session — its queue and its
event stream — in the process that opened it: a worker passes the page's requests to the front
over a private Unix socket, and the front sends the page's answers and searches back to the
workers over pipes, to whichever is free; the 👍/👎 store has one writer, the front.

The workers are forked from one template: the first worker builds the Service (records, BM25,
learned parts: the start-up work) and forks the others, so N workers start in the time of one
and share those pages until written (the collector is kept off them: gc.freeze). Each worker
runs ONE answer at a time on ONE encoder thread (N workers use N cores), so the template also
opens the ONNX session (one thread keeps no thread pool that a fork would lose; its weights,
~100 MB, are shared), loads the neighbour votes' vectors and imports what a Chroma client and
the HTTP server need; after the fork a worker only opens its own Chroma client (its threads
would not survive a fork). The front forks the first worker before it imports anything heavy,
so the template and the page are built at the same time on two cores.
A worker that dies is replaced by a freshly spawned one (on the same socket); a worker whose
front is gone, however it went (SIGKILL too), exits.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import queue
import select
import signal
import socket
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from .settings import Settings

logger = logging.getLogger(__name__)

METHODS = ("answer", "search", "health", "add_document", "remove_document")


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def worker_threads(settings: Settings) -> int:
    """Encoder threads of each worker: one, as `--workers N` means one worker per core (N
    workers use N cores, and their session is opened before the fork and shared), unless
    POLICYQA_TORCH_THREADS says otherwise. One process without workers keeps its default
    (all cores: the lowest latency for one user)."""
    return settings.torch_threads or 1


class WorkerError(RuntimeError):
    """The worker raised while answering: the front treats it as the Service raising."""


# ---------------------------------------------------------------- worker side


def _limit_threads(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def _state(svc) -> dict:
    err = svc.retriever.last_error
    return {"vector_search": "unavailable" if err else "ok"}


def _serve(svc, conn: Connection, number: int) -> None:
    """Answer the front's calls one at a time until the front closes the pipe."""
    svc.warm_up()
    from .service import release_memory

    release_memory()
    if _say_ready(svc, conn, number):
        _pipe_calls(svc, svc, conn, number)


def _say_ready(svc, conn: Connection, number: int) -> bool:
    """False when the front has closed the pipe meanwhile (it stopped while this one started)."""
    try:
        conn.send(("ready", {"pid": os.getpid(), "worker": number, "health": svc.health()}, {}))
    except (EOFError, OSError):
        return False
    return True


def _pipe_calls(svc, caller, conn: Connection, number: int) -> None:
    """The front's calls over the pipe, in order, until it closes it: `caller` answers and
    searches (the Service, or a worker's LocalService: its one answer thread)."""
    from .ingest import IngestError
    from .library import LibraryError

    calls = {
        "answer": caller.answer,
        "search": caller.search,
        "health": svc.health,
        # the library changes in this worker; the others see its new version before their
        # next answer (Service.refresh)
        "add_document": lambda path, kw: svc.add_document(path, **kw),
        "remove_document": svc.remove_document,
    }
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):
            return  # the front is gone
        try:
            reply = ("ok", calls[method](*args), _state(svc))
        except (IngestError, LibraryError) as e:  # refused with a message for the person
            reply = ("refused", (type(e).__name__, e.message, getattr(e, "file", "")), _state(svc))
        except Exception as e:
            logger.exception("worker %d: %s failed", number, method)
            reply = ("error", f"{type(e).__name__}: {e}", _state(svc))
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as e:  # a result that does not pickle: the caller gets an error
            conn.send(("error", f"{type(e).__name__}: {e}", _state(svc)))


# ---------------------------------------------------------------- workers that serve HTTP


@dataclass
class Serving:
    """What the workers need to accept connections themselves (server.serve_pool): the
    listening socket, the page's Unix socket, a private folder for the shared tables, and the
    rate limits' buckets (server.SharedTokenBucket)."""

    listener: socket.socket | None  # one socket for all (where SO_REUSEPORT is missing)
    address: tuple  # host, port: each worker listens on its own socket (SO_REUSEPORT)
    family: int
    page_socket: str
    state_dir: str
    buckets: tuple

    def listen(self) -> socket.socket:
        """This worker's listening socket: with SO_REUSEPORT its own, bound to the same port
        (the kernel spreads new connections over the workers' sockets by their addresses);
        otherwise the one the front opened, shared."""
        if self.listener is not None:
            return self.listener
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(self.address)
        sock.listen(2048)
        return sock


class WorkerStatus:
    """Which workers serve, and whether vector search worked on their latest answer: a table
    in a file every process maps (pid, state per worker), so that any worker's /healthz
    reports all of them. Each worker writes its own row; the front clears a lost one's."""

    def __init__(self, state_dir: str, size: int):
        self.path, self.size = Path(state_dir) / "workers", size
        with open(self.path, "ab") as fh:
            if fh.tell() < size * 16:
                fh.truncate(size * 16)
        self._pid: int | None = None

    def _rows(self):
        if self._pid != os.getpid():
            import mmap

            with open(self.path, "r+b") as fh:
                self._map = mmap.mmap(fh.fileno(), self.size * 16)
            self._table = memoryview(self._map).cast("q")
            self._pid = os.getpid()
        return self._table

    def set(self, number: int, pid: int, vectors_ok: bool) -> None:
        rows = self._rows()
        rows[2 * number + 1] = 1 if vectors_ok else 2
        rows[2 * number] = pid

    def clear(self, number: int) -> None:
        self._rows()[2 * number] = 0

    def serving(self) -> list[tuple[int, bool]]:
        """(pid, vector search ok) of every worker that serves now."""
        rows = self._rows()
        out = []
        for n in range(self.size):
            pid = rows[2 * n]
            if pid and _exists(pid):
                out.append((pid, rows[2 * n + 1] != 2))
        return out


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalService:
    """A worker's Service as its HTTP server sees it: answers and searches run on the worker's
    one answer thread, in the order they came (N workers = N cores; the event loop meanwhile
    reads and writes requests), and /healthz reports every worker of the server."""

    def __init__(self, svc, status: WorkerStatus, number: int):
        self.svc, self.status, self.number = svc, status, number
        self.settings = svc.settings
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="answer")

    def __getattr__(self, name: str):  # library, records, add_document… as the Service's
        return getattr(self.svc, name)

    def _answer(self, question, history):
        try:
            return self.svc.answer(question, history)
        finally:
            self.status.set(self.number, os.getpid(), not self.svc.retriever.last_error)

    def answer(self, question: object, history: list[dict] | None = None):
        return self._thread.submit(self._answer, question, history).result()

    async def answer_async(self, question: object, history: list[dict] | None = None):
        import asyncio

        return await asyncio.wrap_future(self._thread.submit(self._answer, question, history))

    def search(self, *args):
        return self._thread.submit(self.svc.search, *args).result()

    def health(self) -> dict:
        out = self.svc.health()
        serving = self.status.serving()
        vectors_ok = all(ok for _, ok in serving)
        out["workers"] = {
            "configured": self.status.size,
            "ready": len(serving),
            "pids": [pid for pid, _ in serving],
        }
        out["vector_search"] = "ok" if vectors_ok else "unavailable"
        if not vectors_ok or len(serving) < self.status.size:
            out["status"] = "degraded"
        return out


def _http_server(svc, serving: Serving, size: int, number: int = 0):
    """The worker's app and its uvicorn server, built in the template before the fork (their
    objects then shared by every worker); each fork sets its own number. (LocalService, server)"""
    import uvicorn

    from .server import create_app, proxy_options

    local = LocalService(svc, WorkerStatus(serving.state_dir, size), number)
    app = create_app(
        local,
        svc.settings,
        with_page=False,
        buckets=serving.buckets,
        page_upstream=serving.page_socket,
    )
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
        **proxy_options(svc.settings),
    )
    config.load()
    return local, _worker_server(config)


def _serve_http(svc, conn: Connection, number: int, http: tuple, serving: Serving) -> None:
    """Serve the API on the port (and pass the page's requests to the front), and the front's
    calls over the pipe, until the front closes the pipe or sends SIGTERM."""
    svc.warm_up()
    from .service import release_memory

    release_memory()
    local, server = http
    local.number = number
    local.status.set(number, os.getpid(), not svc.retriever.last_error)
    if not _say_ready(svc, conn, number):
        local.status.clear(number)
        return

    def calls() -> None:
        _pipe_calls(svc, local, conn, number)
        server.should_exit = True  # the front closed the pipe: it is stopping

    threading.Thread(target=calls, daemon=True, name="front-calls").start()
    server.run(sockets=[serving.listen()])


def _worker_server_class():
    import uvicorn

    class WorkerServer(uvicorn.Server):
        """uvicorn, stopping on SIGTERM only: Ctrl-C in a terminal reaches every process of the
        group, and the front stops the workers itself (it closes their pipes)."""

        @contextlib.contextmanager
        def capture_signals(self):
            previous = signal.signal(signal.SIGTERM, self.handle_exit)
            try:
                yield
            finally:
                signal.signal(signal.SIGTERM, previous)

    return WorkerServer


def _worker_server(config):
    return _worker_server_class()(config)


def watch_front(front: int) -> None:
    """Exit when the front process ends, however it ends (a SIGKILL leaves no time to close
    anything): a thread waits on a pidfd of the front (Linux ≥ 5.3), or checks every second
    elsewhere. A worker is never left running, orphaned, holding its memory and the port."""

    def wait() -> None:
        try:
            fd = os.pidfd_open(front)
        except ProcessLookupError:
            fd = None  # already gone
        except (AttributeError, OSError):  # no pidfd here: poll
            fd = -1
        if fd is not None and fd >= 0:
            select.select([fd], [], [])  # readable when the process has ended
        elif fd == -1:
            while _exists(front):
                time.sleep(1.0)
        logger.warning("the front (pid %d) is gone: worker %d exits", front, os.getpid())
        os._exit(0)

    threading.Thread(target=wait, daemon=True, name="watch-front").start()


def _template_main(
    settings: Settings,
    pairs: list,
    threads: int,
    vectors: bool = True,
    hold: bool = False,
    serving: Serving | None = None,
    front: int | None = None,
):
    """The first worker: build the template Service, fork the other workers from it, serve.
    With `hold` it opens nothing of the index until the front says "go" (WorkerPool.release).

    Every process keeps only its own end of its own pipe open: a pipe reads as closed (and a
    dead worker is noticed) only when no other process holds a copy of its far end."""
    if front is not None:
        watch_front(front)
    _limit_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the front's: it closes the pipes
    for front_end, _ in pairs:
        front_end.close()
    conns = [child for _, child in pairs]
    from .service import Service, release_memory
    from .startup import building_objects
    from .text import keep_token_tables, save_token_tables

    with building_objects():  # frozen after: the collector leaves their pages shared
        keep_token_tables(settings.model_cache_dir)
        svc = Service(settings, with_vectors=False)
        svc.warm_up()  # the keyword side's lazy parts, once for every worker
        save_token_tables()
        if hold and not _released(conns[0]):
            return
        shared = _vector_side(svc, settings, threads) if vectors else None
        http = _http_server(svc, serving, len(conns)) if serving is not None else None
    release_memory()  # what start-up freed goes back to the system once, not once per worker
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the system reaps the forks below
    for number in range(1, len(conns)):
        if os.fork() == 0:
            try:
                if front is not None:
                    watch_front(front)  # the template's watcher thread is not in the fork
                _forked_main(svc, conns, number, shared, serving, http)
            finally:
                os._exit(0)
    _forked_main(svc, conns, 0, shared, serving, http)


# what opening a Chroma client imports (langchain-chroma, the Rust bindings, telemetry): ~25 MB
# of module objects a worker would otherwise import after the fork, each its own copy; importing
# them starts no thread
CLIENT_MODULES = ("langchain_chroma", "chromadb.api.rust", "chromadb.telemetry.product.posthog")


def _vector_side(svc, settings: Settings, threads: int) -> tuple:
    """Everything of the vector side that survives a fork, built once in the template: the
    query encoder (its tokenizer, ~60 MB; with one thread its session, run once), the neighbour
    votes' vectors and the Chroma client's modules. Returns (embeddings, neighbours)."""
    import importlib

    from .embeddings import make_embeddings

    embeddings = make_embeddings(settings)
    _open_shared_session(embeddings, threads)
    svc.embeddings = embeddings  # attach_vectors sets the same after the fork
    neighbours = svc.load_neighbours()
    for name in CLIENT_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as e:  # another chromadb layout: imported after the fork instead
            logger.debug("not imported before the fork: %s (%s)", name, e)
    return embeddings, neighbours


def _open_shared_session(embeddings, threads: int) -> None:
    """Open the ONNX session in the template and run it once, so the forks share its weights
    (~100 MB each) and its first-run set-up.

    Only with one encoder thread per worker: ONNX Runtime then runs the forward on the calling
    thread and keeps no pool; a pool's threads would not exist in a fork. (Its one background
    thread waits on a timer and is not needed to answer: tests answer in forks.)"""
    encoder = getattr(embeddings, "query_encoder", None)
    if encoder is None or threads != 1:
        return
    try:
        encoder.encode("孤儿养育保障标准")
    except Exception as e:  # each worker tries again on its first question, and reports it
        logger.warning("query encoder session not opened before fork: %s", e)


def _forked_main(
    svc,
    conns: list[Connection],
    number: int,
    shared: tuple | None,
    serving: Serving | None,
    http: tuple | None,
) -> None:
    for other, conn in enumerate(conns):
        if other != number:
            conn.close()
    if shared is not None:
        embeddings, neighbours = shared
        svc.attach_vectors(embeddings, neighbours=neighbours)
    if serving is not None:
        _serve_http(svc, conns[number], number, http, serving)
    else:
        _serve(svc, conns[number], number)


def _released(conn: Connection) -> bool:
    """Wait for the front's "go": the index is checked (and built if it had to be)."""
    try:
        return conn.recv() == ("go",)
    except (EOFError, OSError):  # the front is gone
        return False


def _fresh_main(
    settings: Settings,
    conn: Connection,
    number: int,
    threads: int,
    vectors: bool,
    hold: bool = False,
    serving: Serving | None = None,
    size: int = 1,
    front: int | None = None,
):
    """A worker spawned, not forked (a replacement, or a front with threads): it builds its
    own Service."""
    if front is not None:
        watch_front(front)
    _limit_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .server import configure_logging
    from .service import Service
    from .startup import building_objects

    configure_logging()
    from .text import keep_token_tables, save_token_tables

    with building_objects():
        keep_token_tables(settings.model_cache_dir)
        svc = Service(settings, with_vectors=False)
        save_token_tables()
        if hold and not _released(conn):
            return
        if vectors:
            svc.attach_vectors()
    if serving is not None:
        if not os.path.isdir(serving.state_dir):
            return  # the front stopped while this replacement started: nothing to serve
        _serve_http(svc, conn, number, _http_server(svc, serving, size, number), serving)
    else:
        _serve(svc, conn, number)


# ---------------------------------------------------------------- front side


SLOTS = 2  # questions sent to a worker at once: the next one waits in its pipe, never it


class WorkerLost(RuntimeError):
    """The worker stopped before it answered."""


@dataclass
class _Worker:
    number: int
    conn: Connection
    pid: int | None = None
    alive: bool = True
    state: dict = field(default_factory=dict)
    pending: deque = field(default_factory=deque)  # callers' futures, in the order sent
    lock: threading.Lock = field(default_factory=threading.Lock)


class WorkerPool:
    """N answer processes behind one call(): a caller takes a free slot, sends, waits.

    Each worker has `slots` places: while it answers one question the next is already in its
    pipe, so it never waits for the front between answers. Answers come back in order; one
    reader thread per worker hands each to its caller."""

    def __init__(
        self,
        settings: Settings,
        workers: int,
        timeout: float = 120.0,
        vectors: bool = True,
        slots: int = SLOTS,
        hold: bool = False,
        serving: Serving | None = None,
    ):
        """`hold`: the workers build what needs no index, then wait for release() before they
        open it (the front checks the index meanwhile, see server.serve_pool). `serving`: the
        workers accept the connections themselves (server.serve_pool); without it they only
        answer the front's calls."""
        self.settings = settings
        self.vectors = vectors  # False: BM25-only workers (tests)
        self.size = workers
        self.slots = slots
        self.timeout = timeout
        self.threads = worker_threads(settings)
        wsettings = settings.model_copy(update={"torch_threads": self.threads})
        self._wsettings = wsettings
        self._free: queue.Queue[_Worker] = queue.Queue()  # one entry per free slot
        self._workers: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self.health_report: dict | None = None
        self._closed = False
        self.stopping = False  # set by the front when a stop begins (server._front_server)
        self._failed_starts = 0
        self.serving = serving
        self.front = os.getpid()
        self.status = WorkerStatus(serving.state_dir, workers) if serving else None
        pairs = [mp.Pipe(duplex=True) for _ in range(workers)]
        ctx = _fork_context()
        if ctx is not None:
            self._template = ctx.Process(
                target=_template_main,
                args=(wsettings, pairs, self.threads, vectors, hold, serving, self.front),
                name="w0",
                daemon=True,  # never outlives the front, however the front ends
            )
            self._template.start()
        else:  # threads already running here (an embedding app): spawn each worker instead
            self._template = None
            for number, (_, child) in enumerate(pairs):
                self._spawn(child, number, hold)
        for number, (mine, child) in enumerate(pairs):
            child.close()
            self._add(_Worker(number, mine))

    def _spawn(self, child: Connection, number: int, hold: bool = False) -> None:
        mp.get_context("spawn").Process(
            target=_fresh_main,
            args=(
                self._wsettings,
                child,
                number,
                self.threads,
                self.vectors,
                hold,
                self.serving,
                self.size,
                self.front,
            ),
            name=f"w{number}",
        ).start()

    def release(self) -> None:
        """Let a held pool open the index: the template (which then forks the others), or
        every spawned worker."""
        targets = [self._workers[0]] if self._template is not None else self._workers.values()
        for w in list(targets):
            with w.lock, contextlib.suppress(OSError):  # one that stopped is replaced
                w.conn.send(("go",))

    def _add(self, w: _Worker) -> None:
        self._workers[w.number] = w
        threading.Thread(target=self._read, args=(w,), daemon=True).start()

    def _read(self, w: _Worker) -> None:
        """The worker's replies: first that it is ready, then its answers in order."""
        try:
            kind, info, _ = w.conn.recv()
            if kind != "ready":
                raise EOFError(kind)
            w.pid = info["pid"]
            self.health_report = info["health"]
            logger.info("worker %d ready (pid %d)", w.number, w.pid)
            for _ in range(self.slots):
                self._free.put(w)
            while True:
                kind, payload, state = w.conn.recv()
                w.state = state
                with w.lock:
                    fut = w.pending.popleft()
                if kind == "error":
                    fut.set_exception(WorkerError(payload))
                elif kind == "refused":
                    fut.set_exception(_refusal(*payload))
                else:
                    fut.set_result(payload)
        except (EOFError, OSError):
            self._lost(w)
        except (TypeError, ValueError):
            if not self._closed:  # else close() closed the pipe under this read: done
                raise

    def _lost(self, w: _Worker) -> None:
        with w.lock:
            was_alive, w.alive = w.alive, False
            pending = list(w.pending)
            w.pending.clear()
        for fut in pending:
            fut.set_exception(WorkerLost(f"worker {w.number} stopped"))
        if self.status is not None and was_alive:
            self.status.clear(w.number)
        if not was_alive or self._closed:
            return
        # a stop of the whole group reaches the workers and the front at once: give the front's
        # signal a moment to be seen before starting a replacement into a stopping server
        time.sleep(0.2)
        if self._closed or self.stopping:
            return
        if w.pid is None:  # it never started: a replacement would fail the same way
            self._failed_starts += 1
            if self._failed_starts > 3 * self.size:
                logger.error("worker %d could not start; not trying again", w.number)
                return
        logger.error("worker %d (pid %s) stopped; starting a replacement", w.number, w.pid)
        mine, child = mp.Pipe(duplex=True)
        self._spawn(child, w.number)
        child.close()
        self._add(_Worker(w.number, mine))

    def call(self, method: str, *args):
        if method not in METHODS:
            raise ValueError(method)
        deadline = time.monotonic() + self.timeout
        retried = False
        while True:
            try:
                w = self._free.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise TimeoutError("no answer worker became free in time") from None
            fut: Future = Future()
            try:
                with w.lock:
                    if not w.alive:
                        continue  # a slot of a worker that has stopped: gone with it
                    w.pending.append(fut)
                    w.conn.send((method, args))
            except OSError:
                pass  # the pipe is broken: the reader sees it too and fails the future
            try:
                result = fut.result(timeout=max(deadline - time.monotonic(), 0.001))
            except WorkerLost:
                if retried:  # twice: the question itself may be what stops them
                    raise
                retried = True
                continue  # once more, on another worker
            except WorkerError:
                self._free.put(w)
                raise
            self._free.put(w)
            return result

    def ready(self) -> int:
        return sum(1 for w in self._workers.values() if w.alive and w.pid is not None)

    def vector_search_ok(self) -> bool:
        return all(
            w.state.get("vector_search", "ok") == "ok" for w in self._workers.values() if w.alive
        )

    def pids(self) -> list[int]:
        return [w.pid for w in self._workers.values() if w.alive and w.pid is not None]

    def close(self) -> None:
        """Close the pipes (workers exit at EOF), then make sure they did."""
        self._closed = True
        for w in self._workers.values():
            w.conn.close()
        deadline = time.monotonic() + 5
        for pid in self.pids():
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGTERM)
        if self._template is not None:
            self._template.join(timeout=5)


def _refusal(kind: str, message: str, file: str) -> Exception:
    """The worker's IngestError or LibraryError again, with its Chinese message."""
    from .ingest import errors
    from .library import LibraryError

    if kind == "LibraryError":
        return LibraryError(message)
    cls = getattr(errors, kind, errors.IngestError)
    return cls(message, file=file)


def _alive(pid: int) -> bool:
    if not _exists(pid):
        return False
    try:  # our own child that exited but was not reaped yet is not alive
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _fork_context():
    """Fork only from a process with one thread: a fork copies no other thread, so a lock one
    of them held would stay locked in the child forever."""
    if mp.get_all_start_methods().count("fork") == 0:
        return None
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        threads = threading.active_count()
    return mp.get_context("fork") if threads == 1 else None


class PoolService:
    """What the page and the API need from a Service, with answers computed by the pool."""

    def __init__(self, settings: Settings, pool: WorkerPool):
        from .library import Library

        self.settings = settings
        self.pool = pool
        self.library = Library(settings)  # reads only here; changes go through a worker
        self._stamp: tuple | None = None
        self._records: list = []
        self._by_id: dict = {}
        self._feedback = None

    def _current(self) -> None:
        """The front's records (source cards, the 查询 tab) follow the library's list too."""
        stamp = self.library.stamp()
        if stamp != self._stamp:
            self._records = self.library.records()
            self._by_id = {r.id: r for r in self._records}
            self._stamp = stamp

    @property
    def records(self) -> list:
        self._current()
        return self._records

    @property
    def by_id(self) -> dict:
        self._current()
        return self._by_id

    def answer(self, question: object, history: list[dict] | None = None):
        return self.pool.call("answer", question, history)

    def search(
        self,
        query: object,
        k: int = 5,
        history: list[dict] | None = None,
        documents: list[str] | None = None,
    ):
        return self.pool.call("search", query, k, history, documents)

    def add_document(self, path, **kw):
        """Library.add in one worker (it embeds); every worker answers from the new set next."""
        return self.pool.call("add_document", str(path), kw)

    def remove_document(self, doc_id: str):
        return self.pool.call("remove_document", doc_id)

    def stream(self, question: object, history: list[dict] | None = None):
        from .service import Service

        return Service.stream(self, question, history)

    @property
    def feedback(self):
        if self._feedback is None:
            from .feedback import FeedbackStore

            self._feedback = FeedbackStore(self.settings.feedback_db)
        return self._feedback

    def health(self) -> dict:
        """The workers' report at start, with what is true now: how many are ready and whether
        vector search worked on their latest question."""
        ready = self.pool.ready()
        out = dict(self.pool.health_report or {})
        vectors_ok = self.pool.vector_search_ok()
        out["workers"] = {"configured": self.pool.size, "ready": ready, "pids": self.pool.pids()}
        out["vector_search"] = "ok" if vectors_ok else "unavailable"
        if ready == 0:
            out["status"] = "starting"
        elif not vectors_ok or ready < self.pool.size:
            out["status"] = "degraded"
        else:
            out["status"] = "ok"
        return out

    def warm_up(self) -> None:
        pass

    def close(self) -> None:
        self.pool.close()
