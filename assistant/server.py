"""One server: the Gradio page at /, an OpenAI-compatible API at /v1, health at /healthz."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.requests import ClientDisconnect

from .feedback import redact
from .settings import Settings, get_settings

logger = logging.getLogger("policyqa.api")

MODEL_NAME = "policyqa"
MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGES = 50


# ---------------------------------------------------------------- logs


class JsonLines(logging.Formatter):
    """One JSON object per line; phone and 身份证 numbers redacted; no stack trace to users."""

    FIELDS = (
        "request_id",
        "path",
        "status",
        "latency_ms",
        "mode",
        "answered",
        "degraded",
        "reason",
        "client",
    )

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,  # with `--workers N`, which process wrote it
            "msg": redact(record.getMessage()),
        }
        for key in self.FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["error"] = redact(self.formatException(record.exc_info))[-4000:]
        return json.dumps(out, ensure_ascii=False)


class LineHandler(logging.StreamHandler):
    """Each record in one write(): with `--workers N` several processes write to one stderr,
    and a line written in pieces could be cut by another process's line."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            stream = self.stream
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # not a file (a test's capture)
            return super().emit(record)
        except Exception:
            self.handleError(record)
            return
        try:
            stream.flush()
            os.write(fd, line.encode("utf-8", "replace"))
        except Exception:
            self.handleError(record)


def configure_logging(level: int = logging.INFO) -> None:
    handler = LineHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "uvicorn.access", "sentence_transformers", "chromadb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# ---------------------------------------------------------------- rate limit


class TokenBucket:
    """Per-client token bucket: `rate` requests per second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000, clock=time.monotonic):
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when allowed; otherwise seconds until a token is available."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > self.max_clients:  # forget the idle, bounded memory
                for k in list(self._buckets)[: self.max_clients // 2]:
                    del self._buckets[k]
            return (1 - tokens) / self.rate


class SharedTokenBucket:
    """TokenBucket for several processes: `policyqa serve --workers N` has N processes accept
    requests, and a client spread over them must still get one bucket, not N.

    The buckets live in a file mapped into every process (a table of client-hash, tokens, last
    time; probed from the hash), updated under an fcntl lock on that file: the kernel drops a
    lock whose holder dies, so a worker killed mid-update cannot stop the others. A bucket that
    has refilled is the same as none, so its slot is free for another client; when every probed
    slot is in use the fullest bucket gives way (memory stays bounded, as in TokenBucket).
    Each process maps the file on its first take (after a fork, or in a spawned process)."""

    PROBES = 8

    def __init__(
        self, path: Path, rate: float, burst: int, slots: int = 8192, clock=time.monotonic
    ):
        self.path, self.rate, self.burst, self.slots = Path(path), rate, burst, slots
        self.clock = clock  # CLOCK_MONOTONIC: one clock for every process of the machine
        size = slots * 24
        with open(self.path, "ab") as fh:  # the front creates it; every process maps it
            if fh.tell() < size:
                fh.truncate(size)
        self._pid: int | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:  # to a spawned worker: the file's path, not its mapping
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _pid=None, _lock=threading.Lock())

    def _open(self) -> None:
        import mmap

        self._file = open(self.path, "r+b")  # noqa: SIM115 - mapped for the process's life
        self._map = mmap.mmap(self._file.fileno(), self.slots * 24)
        self._keys = memoryview(self._map)[: self.slots * 8].cast("Q")
        self._values = memoryview(self._map)[self.slots * 8 :].cast("d")  # tokens, last
        self._pid = os.getpid()

    def take(self, client: str) -> float:
        """0 when allowed; otherwise seconds until a token is available."""
        import fcntl
        import hashlib

        key = int.from_bytes(hashlib.blake2b(client.encode(), digest_size=8).digest()) | 1
        with self._lock:  # fcntl locks are per process: the threads of one wait here first
            if self._pid != os.getpid():
                self._open()
            fcntl.lockf(self._file, fcntl.LOCK_EX)
            try:
                return self._take(key, self.clock())
            finally:
                fcntl.lockf(self._file, fcntl.LOCK_UN)

    def _take(self, key: int, now: float) -> float:
        keys, values = self._keys, self._values
        slot, free, fullest, most = None, None, 0, -1.0
        for i in range(self.PROBES):
            j = (key + i) % self.slots
            if keys[j] == key:
                slot = j
                break
            refilled = values[2 * j] + (now - values[2 * j + 1]) * self.rate
            held = keys[j] != 0 and refilled < self.burst
            if not held and free is None:
                free = j
            elif held and refilled > most:
                fullest, most = j, refilled
        if slot is None:  # a new client: a free slot, or the fullest bucket's
            slot = free if free is not None else fullest
            keys[slot] = key
            tokens = float(self.burst)
        else:
            tokens = values[2 * slot] + (now - values[2 * slot + 1]) * self.rate
            tokens = min(float(self.burst), tokens)
        if tokens >= 1:
            values[2 * slot], values[2 * slot + 1] = tokens - 1, now
            return 0.0
        values[2 * slot], values[2 * slot + 1] = tokens, now
        return (1 - tokens) / self.rate


# ---------------------------------------------------------------- app


def _slow_down(wait: float, message: str):
    """429 with the seconds to wait (at least one) in Retry-After."""
    return _error(
        429, message, "rate_limit_error", headers={"Retry-After": str(max(1, round(wait)))}
    )


def _error(
    status: int, message: str, kind: str = "invalid_request_error", headers=None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}}, status, headers=headers
    )


def _references(answer) -> list[dict]:
    by_id = {s.id: s for s in answer.sources}
    ordered = [by_id[c] for c in answer.citations if c in by_id]
    return [{"id": s.id, "title": s.title, "readable": s.readable, "text": s.text} for s in ordered]


def _parse_messages(body) -> tuple[str, list[dict]]:
    """(question, history) from OpenAI messages; system messages cannot change our rules."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages 不能为空。")
    turns = []
    for m in messages[-MAX_MESSAGES:]:
        if not isinstance(m, dict):
            raise ValueError("messages 的每一项都应是对象。")
        role, content = m.get("role"), m.get("content")
        if isinstance(content, list):  # content parts: only text parts count
            content = "".join(
                p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
        if isinstance(role, str) and role in {"user", "assistant"} and isinstance(content, str):
            turns.append({"role": role, "content": content})
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("最后一条消息应是用户的问题。")
    return turns[-1]["content"], turns[:-1]


# the API and the page's programmatic routes (the named `ask` endpoint): key and rate limit.
# The page itself (its queue) stays public.
PROTECTED_PATHS = ("/v1", "/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/")
UPLOAD_PATHS = ("/gradio_api/upload", "/upload")
# Gradio's and FastAPI's internals that no page feature uses: its route list, its monitoring
# dashboard and its login forms (the page has no accounts).
HIDDEN_PATHS = (
    "/openapi.json",
    "/gradio_api/openapi.json",
    "/monitoring",
    "/gradio_api/monitoring",
    "/login",
    "/logout",
    "/docs",
    "/redoc",
)
# The page's own queue: public, but one client may not fill it for everyone else.
PAGE_QUEUE_PATHS = ("/gradio_api/queue/join",)
PUBLIC_HEALTH = ("status", "index_loaded", "vector_search", "llm")
_RID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Gradio's queue looks for new page events every 1 ms while it has none: 1,400 wake-ups a
# second, 5 % of a core in an idle server (strace, /proc). Every 10 ms: a page's answer starts
# at most 10 ms later, and an idle server is idle.
PAGE_QUEUE_POLL = 0.01


DOCUMENTS_PATH = "/v1/documents"
MULTIPART_OVERHEAD = 64 * 1024  # the form's boundaries and small fields around the file


def _size_text(n: int) -> str:
    return f"{n / 1048576:.0f} MB" if n >= 1048576 else f"{n // 1024} KB"


def _admin_key(settings: Settings) -> str | None:
    """The administrator's key (POLICYQA_ADMIN_KEY); None: documents are read-only."""
    secret = getattr(settings, "admin_key", None)
    value = secret.get_secret_value() if secret is not None else ""
    return value or None


def _file_limit(settings: Settings) -> int:
    """The largest document accepted (the ingestion limits: refused before anything is parsed)."""
    limits = getattr(settings, "ingest_limits", None)
    if limits is None:
        from .ingest import IngestLimits

        limits = IngestLimits()
    return int(limits.max_bytes)


def _upload_limit(settings: Settings) -> int:
    return _file_limit(settings) + MULTIPART_OVERHEAD


def _request_id(given: str | None) -> str:
    """The client's request id when it is a short token; ours otherwise (never echo 60 KB)."""
    return given if given and _RID.fullmatch(given) else uuid.uuid4().hex[:16]


def _bearer_ok(header: str, key: str) -> bool:
    scheme, _, token = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), key)


def page_burst(settings: Settings) -> int:
    """At most a quarter of the page's queue from one client at once, refilled at the API's
    rate: a person asks a question every few seconds, a flood waits its turn instead."""
    return max(1, min(settings.rate_limit_burst, settings.queue_size // 4))


def create_app(
    service=None,
    settings: Settings | None = None,
    with_page: bool = True,
    *,
    buckets: tuple | None = None,
    limits: bool = True,
    page_upstream: str | None = None,
) -> FastAPI:
    """The app. For `policyqa serve --workers N` (assistant/workers.py): each worker serves the
    API with `buckets` (the rate limits shared by the N processes) and passes the page's
    requests to `page_upstream` (the front's Unix socket); the front serves the page there with
    `limits=False` (the worker in between has checked keys, limits and sizes)."""
    settings = settings or get_settings()
    if service is None:
        from .service import get_service

        service = get_service()
    if buckets is None:
        buckets = (
            TokenBucket(settings.rate_limit_rps, settings.rate_limit_burst),
            TokenBucket(settings.rate_limit_rps, page_burst(settings)),
        )
    bucket, page_bucket = buckets
    app = FastAPI(
        title="泉城政策通 API", docs_url=None, redoc_url=None, openapi_url="/v1/openapi.json"
    )
    key = settings.api_key.get_secret_value() if settings.api_key else None
    admin = _admin_key(settings)
    upload_limit = _upload_limit(settings)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        rid = _request_id(request.headers.get("x-request-id"))
        request.state.rid = rid
        t0 = time.perf_counter()
        path = request.url.path
        client = request.client.host if request.client else "unknown"

        def refused() -> JSONResponse | None:
            """The request turned away before it reaches a route, or None."""
            if path.startswith(UPLOAD_PATHS):  # no feature takes files: nothing is stored
                return _error(404, "不支持上传文件。", "not_found")
            if path.startswith(HIDDEN_PATHS):
                return _error(404, "没有这个页面。", "not_found")
            if not limits:  # behind a worker, which has checked all of the below
                return None
            if path.startswith(PAGE_QUEUE_PATHS) and request.method == "POST":
                wait = page_bucket.take(client)
                if wait:
                    return _slow_down(wait, "提问过于频繁，请稍等几秒再问。")
            if path.startswith(PROTECTED_PATHS):
                # the limiter first: a flood of wrong keys is a flood like any other
                wait = bucket.take(client)
                if wait:
                    return _slow_down(wait, "请求过于频繁，请稍后再试。")
                documents = path.startswith(DOCUMENTS_PATH)
                auth = request.headers.get("authorization", "")
                # the administrator's key also opens the API: one bearer header carries one key
                if key and not (
                    _bearer_ok(auth, key) or (documents and admin and _bearer_ok(auth, admin))
                ):
                    return _error(
                        401,
                        "缺少或错误的 API 密钥（Authorization: Bearer …）。",
                        "authentication_error",
                    )
                if request.method == "POST" and "content-length" not in request.headers:
                    # a chunked body has no size to check before it is read: ask for one instead
                    return _error(411, "请求需要 Content-Length。")
                try:
                    size = int(request.headers.get("content-length") or 0)
                except ValueError:
                    return _error(400, "Content-Length 无效。")
                limit = upload_limit if documents and request.method == "POST" else MAX_BODY_BYTES
                if size > limit:
                    return _error(413, f"请求过大（上限 {_size_text(limit)}）。")
            return None

        response = refused()
        if response is None:
            try:
                response = await call_next(request)
            except ClientDisconnect:  # the client left mid-request: nothing answered, nothing broke
                logger.info("client disconnected", extra={"request_id": rid, "path": path})
                response = _error(400, "请求未完整发送。")
            except Exception:  # never a stack trace to a user
                logger.exception("unhandled error", extra={"request_id": rid, "path": path})
                response = _error(500, "服务暂时出错，请稍后再试或拨打12345。", "server_error")
        response.headers["X-Request-ID"] = rid
        if path.startswith(("/v1", "/healthz")):  # refused ones too (429, 401, 413…)
            logger.info(
                "request",
                extra={
                    "request_id": rid,
                    "path": path,
                    "status": response.status_code,
                    "client": client,
                    "latency_ms": round((time.perf_counter() - t0) * 1000, 1),
                },
            )
        return response

    @app.get("/healthz")
    def healthz(request: Request):
        health = service.health()
        if key and not _bearer_ok(request.headers.get("authorization", ""), key):
            # a public probe learns whether the service works, not what it is built from
            health = {k: health[k] for k in PUBLIC_HEALTH if k in health}
        # a load balancer's readiness check sends no one to a server whose workers are not up
        return JSONResponse(health, 503 if health.get("status") == "starting" else 200)

    @app.get("/v1/models")
    def models():
        return {
            "object": "list",
            "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "policyqa"}],
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        raw = bytearray()
        try:
            async for part in request.stream():  # bounded however the body arrives
                raw += part
                if len(raw) > MAX_BODY_BYTES:
                    return _error(413, f"请求过大（上限 {MAX_BODY_BYTES // 1024} KB）。")
        except ClientDisconnect:  # gone mid-body: an everyday event, not a server error
            logger.info("client disconnected", extra={"request_id": request.state.rid})
            return _error(400, "请求未完整发送。")
        raw = bytes(raw)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested 10,000 deep too
            return _error(400, "请求不是有效的 JSON。")
        if isinstance(body, dict) and not isinstance(body.get("stream", False), bool):
            return _error(400, "stream 应为 true 或 false。")
        try:
            question, history = _parse_messages(body)
        except ValueError as e:
            return _error(400, str(e))
        if not question.strip():
            return _error(400, "问题不能为空，请输入您想了解的政策。")
        answer_async = getattr(service, "answer_async", None)
        if answer_async is not None:  # a worker: its own answer thread (assistant/workers.py)
            answer = await answer_async(question, history)
        else:
            from starlette.concurrency import run_in_threadpool

            answer = await run_in_threadpool(service.answer, question, history)
        rid = request.state.rid
        logger.info(
            "answer",
            extra={
                "request_id": rid,
                "mode": answer.mode,
                "answered": answer.answered,
                "degraded": answer.degraded,
                "reason": answer.reason,
                "latency_ms": round(answer.timings.get("answer_ms", 0), 1),
            },
        )
        created = int(time.time())
        cid = f"chatcmpl-{rid}"
        extra = {
            "references": _references(answer),
            "policyqa": {
                "citations": answer.citations,
                "answered": answer.answered,
                "mode": answer.mode,
                "degraded": answer.degraded,
                "reason": answer.reason,
            },
        }
        if body.get("stream") is True:
            return StreamingResponse(
                _sse(cid, created, answer, extra), media_type="text/event-stream"
            )
        return JSONResponse(  # JSON types only: not walked again by FastAPI's encoder
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": MODEL_NAME,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": len(question),
                    "completion_tokens": len(answer.text),
                    "total_tokens": len(question) + len(answer.text),
                },
                **extra,
            }
        )

    add_document_routes(app, service, settings)

    if page_upstream is not None:
        add_page_proxy(app, page_upstream)
    elif with_page:
        import gradio as gr

        import ui

        blocks = ui.build_ui(service, settings)
        blocks.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
        queue = getattr(blocks, "_queue", None)
        if getattr(queue, "sleep_when_free", PAGE_QUEUE_POLL) < PAGE_QUEUE_POLL:
            queue.sleep_when_free = PAGE_QUEUE_POLL
        app = gr.mount_gradio_app(app, blocks, path="/", ssr_mode=False, **ui.launch_kwargs())
    return app


# ---------------------------------------------------------------- documents


class _TooLarge(Exception):
    """The body grew past its limit while it was read."""


def _bounded(receive, limit: int):
    """An ASGI receive that stops a body at `limit` bytes however it arrives (a client may send
    more than its Content-Length says, or a server may pass it on in pieces)."""
    seen = 0

    async def bounded():
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
        return message

    return bounded


_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_FIELD_CHARS = 200


def _field(form, name: str) -> str | None:
    """An optional text field of the upload form: stripped, None when empty, bounded."""
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} 应是文字。")
    value = _CONTROL.sub("", value).strip()
    if len(value) > MAX_FIELD_CHARS:
        raise ValueError(f"{name} 过长（最多 {MAX_FIELD_CHARS} 字）。")
    return value or None


def add_document_routes(app: FastAPI, service, settings: Settings) -> None:
    """GET /v1/documents lists the library (public, like the answers drawn from it); POST adds a
    file and DELETE removes one, both with the administrator's key (POLICYQA_ADMIN_KEY; without
    one the library is read-only). The middleware has already applied the rate limit, the API key
    and the Content-Length bound; here the body is bounded again while it is read."""
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException
    from starlette.formparsers import MultiPartException

    admin = _admin_key(settings)
    file_limit = _file_limit(settings)
    body_limit = _upload_limit(settings)

    def denied(request: Request) -> JSONResponse | None:
        if admin is None:
            return _error(
                403,
                "文件库为只读：服务器没有设置管理员密钥（POLICYQA_ADMIN_KEY），不能添加或删除文件。",
                "permission_error",
            )
        header = request.headers.get("authorization", "")
        if not header.strip():
            return _error(
                401,
                "添加或删除文件需要管理员密钥（Authorization: Bearer …）。",
                "authentication_error",
            )
        if not _bearer_ok(header, admin):
            return _error(403, "管理员密钥不正确。", "permission_error")
        return None

    def info(doc) -> dict:
        return {"object": "document", **doc.model_dump(mode="json")}

    def find(doc_id: str):
        return next((d for d in service.library.list() if d.id == doc_id), None)

    @app.get(DOCUMENTS_PATH)
    async def list_documents():
        docs = await run_in_threadpool(service.library.list)
        return {
            "object": "list",
            "data": [info(d) for d in docs],
            "read_only": admin is None,
            "version": service.library.version,
        }

    @app.get(DOCUMENTS_PATH + "/{doc_id}")
    async def get_document(doc_id: str):
        doc = await run_in_threadpool(find, doc_id)
        if doc is None:
            return _error(404, f"没有编号为“{doc_id[:64]}”的文件。", "not_found")
        return info(doc)

    @app.post(DOCUMENTS_PATH)
    async def add_document(request: Request):
        from .ingest import IngestError
        from .library import LibraryError

        refused = denied(request)
        if refused is not None:
            return refused
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return _error(400, "请用 multipart/form-data 上传文件（文件字段名为 file）。")
        bounded = Request(request.scope, _bounded(request.receive, body_limit))
        try:
            form = await bounded.form(max_files=1, max_fields=8, max_part_size=4096)
        except _TooLarge:
            return _error(413, f"文件过大（上限 {_size_text(file_limit)}）。")
        except ClientDisconnect:
            return _error(400, "请求未完整发送。")
        except (HTTPException, MultiPartException):
            return _error(400, "上传的表单无效，请重新选择文件上传。")
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return _error(400, "请选择要上传的文件（文件字段名为 file）。")
            try:
                doc_id, title, issued = (_field(form, k) for k in ("id", "title", "issued"))
            except ValueError as e:
                return _error(400, str(e))
            name = _CONTROL.sub("", Path(upload.filename or "").name)[:MAX_FIELD_CHARS]
            suffix = Path(name).suffix
            # our own file name: what the client calls its file never becomes a path here
            suffix = suffix.lower() if _SUFFIX.fullmatch(suffix) else ""
            with tempfile.TemporaryDirectory(prefix="policyqa-upload-") as tmp:
                dest = Path(tmp) / f"upload{suffix}"
                with dest.open("wb") as out:
                    shutil.copyfileobj(upload.file, out)
                try:
                    doc = await run_in_threadpool(
                        service.add_document,
                        dest,
                        doc_id=doc_id,
                        title=title,
                        issued=issued,
                        original_name=name or None,
                    )
                except IngestError as e:  # the file cannot become records: nothing changed
                    return _error(422, e.message, "invalid_document")
                except LibraryError as e:  # the library refuses it (say, already there)
                    return _error(409, e.message, "conflict")
        finally:
            await form.close()
        logger.info(
            "document added",
            extra={"request_id": request.state.rid, "path": DOCUMENTS_PATH, "reason": doc.id},
        )
        return JSONResponse(info(doc), 201)

    @app.delete(DOCUMENTS_PATH + "/{doc_id}")
    async def remove_document(doc_id: str, request: Request):
        from .library import LibraryError

        refused = denied(request)
        if refused is not None:
            return refused
        if await run_in_threadpool(find, doc_id) is None:
            return _error(404, f"没有编号为“{doc_id[:64]}”的文件。", "not_found")
        try:
            doc = await run_in_threadpool(service.remove_document, doc_id)
        except LibraryError as e:  # say, the default document
            return _error(409, e.message, "conflict")
        logger.info(
            "document removed",
            extra={"request_id": request.state.rid, "path": DOCUMENTS_PATH, "reason": doc.id},
        )
        return {**info(doc), "deleted": True}


# ---------------------------------------------------------------- the page through a worker

HOP_HEADERS = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-real-ip",
    }
)
PAGE_START_WAIT = 20.0  # seconds a page request waits for the page's process to start
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def add_page_proxy(app: FastAPI, upstream: str) -> None:
    """Every path the API does not serve goes, as it came, to the page's process over its Unix
    socket (`policyqa serve --workers N`): Gradio keeps a page session — its queue and its event
    stream — in the process that opened it, so the page lives in one process, reached through
    whichever worker accepted the connection. Bodies and event streams pass through unbuffered.
    The middleware has already applied the page's queue limit and the key, with the client's
    own address, which goes on in X-Forwarded-For."""
    import httpx
    from starlette.background import BackgroundTask

    client: httpx.AsyncClient | None = None

    @app.api_route("/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
    async def page(request: Request, path: str):
        nonlocal client
        if client is None:  # in the worker's event loop, on its first page request
            client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=upstream),
                timeout=httpx.Timeout(60.0, read=None),  # event streams stay open
            )
        headers = [(k, v) for k, v in request.headers.raw if k.lower() not in HOP_HEADERS]
        if request.client:
            headers.append((b"x-forwarded-for", request.client.host.encode()))
        headers.append((b"x-forwarded-proto", request.url.scheme.encode()))
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        outgoing = client.build_request(
            request.method,
            "http://page" + target,
            headers=headers,
            content=request.stream() if has_body else None,
        )
        deadline = time.monotonic() + PAGE_START_WAIT
        while True:
            try:
                reply = await client.send(outgoing, stream=True)
                break
            except httpx.ConnectError:  # nothing sent yet: the page may still be starting
                if time.monotonic() > deadline:
                    return _error(503, "页面暂时无法打开，请稍后再试。", "server_error")
                await asyncio.sleep(0.2)
            except httpx.HTTPError:
                logger.warning("page process not reachable", extra={"path": request.url.path})
                return _error(503, "页面暂时无法打开，请稍后再试。", "server_error")
        response = StreamingResponse(
            reply.aiter_raw(),
            status_code=reply.status_code,
            background=BackgroundTask(reply.aclose),
        )
        response.raw_headers = [
            (k, v) for k, v in reply.headers.raw if k.lower() not in HOP_HEADERS
        ]
        return response


def _sse(cid: str, created: int, answer, extra: dict) -> Iterator[str]:
    def chunk(delta: dict, finish=None, more=None) -> str:
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_NAME,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if more:
            data.update(more)
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    text = answer.text
    step = 24
    for i in range(0, len(text), step):
        yield chunk({"content": text[i : i + step]})
    yield chunk({}, "stop", extra)
    yield "data: [DONE]\n\n"


def serve(
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    front: bool = False,
) -> None:
    """The page and the API. With workers > 1, that many worker processes accept the
    connections and answer the API themselves, and this process (the front) serves the page to
    them (assistant/workers.py); with 1, everything runs here. Default: one worker per core.
    `front`: a front and its workers even for one (the load benchmark compares them)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import warnings

    # gradio's queue statistics use pandas options pandas 3 deprecates, on every page answer
    warnings.filterwarnings("ignore", module=r"gradio\.queueing")
    settings = get_settings()
    configure_logging()
    from .startup import building_objects, prepare_index, skip_gradio_stub_writing
    from .workers import cpu_count

    skip_gradio_stub_writing()
    n = workers or settings.workers or cpu_count()
    host, port = host or settings.host, port or settings.port
    if n > 1 or front:
        serve_pool(settings, n, host, port)
        return
    prepare_index(settings)  # a missing or stale index is built in a child
    import uvicorn

    from .text import keep_token_tables, save_token_tables

    with building_objects():  # no collector runs while start-up builds its objects
        keep_token_tables(settings.model_cache_dir)  # the passages' tokens of the last start
        app = create_app(None, settings=settings)
        save_token_tables()
    logger.info(f"泉城政策通 on http://{host}:{port}/ (API: /v1/chat/completions), 1 process")
    uvicorn.run(
        app, host=host, port=port, log_config=None, access_log=False, **proxy_options(settings)
    )


def serve_pool(
    settings: Settings, n: int, host: str, port: int, vectors: bool = True, prepare: bool = True
) -> None:
    """A front and n workers (`policyqa serve --workers n`; the load benchmark also for n = 1).

    The front holds the port and forks the workers before it imports anything heavy (see
    WorkerPool); each worker listens on the port with SO_REUSEPORT (the kernel spreads new
    connections over their sockets by the connection's addresses) and answers the API itself,
    with the rate limits in shared memory. One socket shared by all spread 50 kept-alive
    connections opened at once 39/11, 17/33 and 50/0 (each wake-up accepts every waiting
    connection), SO_REUSEPORT 25/25 and 19/31; where it is missing, the workers share one. The page — Gradio keeps a session in the process that opened it — is served by the
    front on a private Unix socket, and the workers pass the page's requests to it; the page's
    answers are computed by the workers again, over pipes. `vectors=False`: BM25-only workers
    (tests); `prepare=False`: the index is not checked (tests)."""
    import shutil
    import socket
    import tempfile

    from .startup import building_objects, prepare_index
    from .workers import PoolService, Serving, WorkerPool

    ours = [v for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS") if v not in os.environ]
    os.environ.update(dict.fromkeys(ours, "1"))  # the front computes nothing: no BLAS pool
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    # the port held from here on: bound with SO_REUSEPORT but not listening, so the workers'
    # sockets on it get every connection; without SO_REUSEPORT, one socket the workers share
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reuse = hasattr(socket, "SO_REUSEPORT")
    if reuse:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(address)
    if not reuse:
        listener.listen(2048)
    state = Path(tempfile.mkdtemp(prefix="policyqa-serve-"))  # private: 0700
    serving = Serving(
        listener=None if reuse else listener,
        address=address,
        family=family,
        page_socket=str(state / "page.sock"),
        state_dir=str(state),
        buckets=(
            SharedTokenBucket(
                state / "api.limits", settings.rate_limit_rps, settings.rate_limit_burst
            ),
            SharedTokenBucket(state / "page.limits", settings.rate_limit_rps, page_burst(settings)),
        ),
    )
    service = None
    try:
        # forked first: the template builds while this process checks the index
        pool = WorkerPool(settings, n, hold=True, vectors=vectors, serving=serving)
        service = PoolService(settings, pool)
        if prepare:
            prepare_index(settings, unset=ours)  # a missing or stale index is built in a child
        pool.release()
        settings = settings.model_copy(update={"concurrency": max(settings.concurrency, n)})
        import uvicorn

        with building_objects():
            app = create_app(service, settings=settings, limits=False)
        logger.info(
            f"泉城政策通 on http://{host}:{port}/ (API: /v1/chat/completions), "
            f"{n} answer {'processes' if n > 1 else 'process'}"
        )
        # uvicorn stops on SIGTERM, puts this handler back and raises the signal again: with
        # the default one the process would end there, before the workers are stopped and the
        # private folder removed below
        signal.signal(signal.SIGTERM, _exit_on_term)
        config = uvicorn.Config(
            app,
            uds=serving.page_socket,
            log_config=None,
            access_log=False,
            proxy_headers=True,  # the workers pass the client's address
            forwarded_allow_ips="*",  # only they can reach this socket (a 0700 folder)
        )
        _front_server(config, pool).run()
    finally:
        if service is not None:
            service.close()
        listener.close()
        shutil.rmtree(state, ignore_errors=True)


def _exit_on_term(signum, frame) -> None:
    raise SystemExit(0)


def _front_server(config, pool):
    """The front's uvicorn, telling the pool the moment a stop begins: a SIGTERM to the whole
    process group stops the workers at the same time, and a worker that stops then is not one
    to replace (a replacement would start into a folder being removed)."""
    import uvicorn

    class FrontServer(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            pool.stopping = True
            super().handle_exit(sig, frame)

    return FrontServer(config)


def proxy_options(settings: Settings) -> dict:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default, so a client on the same
    machine (or behind no proxy) could rotate it past the rate limit: only configured proxies."""
    proxies = settings.trusted_proxies.strip()
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": proxies}
