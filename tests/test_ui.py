"""The page: the named `ask` API through gradio_client, the handlers, escaping, feedback."""

from __future__ import annotations

import html
import json
import logging
import urllib.request
import uuid

import pytest

import ui
from assistant.feedback import FeedbackStore, redact


@pytest.mark.slow
def test_gradio_client_ask_and_follow_up(live):
    from gradio_client import Client

    client = Client(live.url + "/", verbose=False)
    first = client.predict("散居孤儿每个月生活费多少？", [], api_name="/ask")
    assert first["answered"] and "1120元" in first["text"] and first["citations"][0] == "清单-56"
    history = [
        {"role": "user", "content": "散居孤儿每个月生活费多少？"},
        {"role": "assistant", "content": first["text"]},
    ]
    second = client.predict("那机构养育的呢？", history, api_name="/ask")
    assert "1410元" in second["text"] and "清单-56" in second["citations"]
    assert {"text", "citations", "sources", "answered"} <= set(second)


def test_page_builds_without_loading_a_model(bm25_service):
    demo = ui.build_ui(bm25_service)
    cfg = demo.get_config_file()
    names = {d.get("api_name") for d in cfg["dependencies"]}
    assert "ask" in names
    ids = {c.get("props", {}).get("elem_id") for c in cfg["components"]}
    for elem in (
        "chat",
        "question",
        "send",
        "sources",
        "fb-up",
        "fb-down",
        "clear",
        "lookup-q",
        "card",
        "copy-text",
    ):
        assert elem in ids, elem


def test_respond_streams_escapes_and_renders_sources(bm25_service):
    respond = next(fn for fn in _handlers(bm25_service) if fn.__name__ == "respond")
    outputs = list(respond("<script>alert(1)</script>散居孤儿每个月生活费多少？", [], {}))
    chat, sources, state, status = outputs[-1]
    assert chat[0]["content"] == html.escape("<script>alert(1)</script>散居孤儿每个月生活费多少？")
    assert "1120元" in chat[-1]["content"]
    assert 'data-id="清单-56"' in sources and "<details" in sources
    assert state["citations"] == ["清单-56"] and state["n"] == 1
    assert 'data-answers="1"' in status and 'data-busy="0"' in status
    # the first piece already carries the answer's state: feedback given while the answer is
    # still streaming is stored for this answer, never for the one before
    assert outputs[1][2]["question"].endswith("散居孤儿每个月生活费多少？")
    assert len(outputs) >= 3  # a placeholder, partial text, the final answer


def test_feedback_while_an_answer_is_pending_is_not_stored_for_another(bm25_service, tmp_path):
    handlers = _handlers(bm25_service)
    respond = next(fn for fn in handlers if fn.__name__ == "respond")
    first = list(respond("散居孤儿每个月生活费多少？", [], {}))[-1][2]
    pending = next(respond("低保由哪个部门负责？", [], first))[2]  # only the placeholder so far
    assert "question" not in pending  # the old answer is no longer what feedback would rate


def _handlers(service):
    """The closures build_ui wires to events, found on the Blocks."""
    demo = ui.build_ui(service)
    return [d.fn for d in demo.fns.values() if getattr(d, "fn", None)]


def test_to_turns_handles_content_blocks():
    hist = [
        {"role": "user", "content": [{"type": "text", "text": "&lt;b&gt;低保"}]},
        {"role": "assistant", "content": "答复"},
    ]
    assert ui.to_turns(hist) == [
        {"role": "user", "content": "<b>低保"},
        {"role": "assistant", "content": "答复"},
    ]


def test_redaction():
    text = "我的身份证370102199001011234，手机13812345678，座机0531-12345678，热线12345，标准1120元"
    out = redact(text)
    assert (
        "370102199001011234" not in out and "13812345678" not in out and "0531-12345678" not in out
    )
    assert "12345，" in out and "1120元" in out


def test_feedback_rows_are_redacted_and_durable(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.add("up", "我电话13812345678，孤儿补贴多少", "1120元", ["清单-56"], "很好")
    again = FeedbackStore(tmp_path / "fb.sqlite3")  # a new process would see the same rows
    rows = again.rows()
    assert len(rows) == 1 and "13812345678" not in rows[0]["question"]
    assert rows[0]["rating"] == "up" and rows[0]["citations"] == '["清单-56"]'
    with pytest.raises(ValueError):
        store.add("meh", "q", "a", [])


def test_lookup_table_names_record_kinds_in_chinese(bm25_service):
    lookup = next(fn for fn in _handlers(bm25_service) if fn.__name__ == "lookup")
    rows, _ = lookup("孤儿养育")
    assert rows[0][0] == "清单-56" and rows[0][2] == "服务项目"
    assert {r[2] for r in rows} <= {"服务项目", "规划章节", "专栏", "重点任务"}


class Failing:
    """The real service with answering and search broken the way a bug would break them."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def answer(self, question, history):
        raise TypeError("unhashable type: 'list'")

    def search(self, query, k=10):
        raise TypeError("unhashable type: 'list'")


def test_a_handler_error_is_a_polite_chinese_message_and_logged_never_raw_text(
    bm25_service, caplog
):
    import gradio as gr

    handlers = {fn.__name__: fn for fn in _handlers(Failing(bm25_service))}
    with caplog.at_level(logging.ERROR, logger="ui"):
        chat, sources, _, status = list(handlers["respond"]("孤儿补贴多少", [], {}))[-1]
        # the reply says so in the conversation, and the page is not left "busy"
        assert chat[-1]["content"] == ui.POLITE_ERROR and 'data-busy="0"' in status
        for name, args in (("lookup", ("低保",)), ("ask", ("低保", []))):
            with pytest.raises(gr.Error) as raised:
                handlers[name](*args)
            assert raised.value.message == ui.POLITE_ERROR and raised.value.title == "提示"
    assert "unhashable" not in str(chat) + sources
    logged = [r for r in caplog.records if r.exc_info and "unhashable" in str(r.exc_info[1])]
    assert len(logged) == 3  # each with its traceback, server-side


@pytest.mark.slow
def test_gradio_sends_a_client_no_raw_exception_text(live):
    """A malformed request to a page route fails inside Gradio itself, before any handler
    (here pydantic, validating a chat that is not a list): its text stays on the server."""
    config = json.load(urllib.request.urlopen(live.url + "/config", timeout=10))
    respond = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "respond")
    session = uuid.uuid4().hex
    join = urllib.request.Request(
        live.url + "/gradio_api/queue/join",
        json.dumps(
            {"data": ["低保", "not a chat", None], "fn_index": respond, "session_hash": session}
        ).encode(),
        {"content-type": "application/json"},
    )
    urllib.request.urlopen(join, timeout=10).read()
    url = f"{live.url}/gradio_api/queue/data?session_hash={session}"
    with urllib.request.urlopen(url, timeout=30) as stream:
        for line in stream:
            msg = json.loads(line[5:]) if line.startswith(b"data:") else {}
            if msg.get("msg") == "process_completed":
                break
    assert msg["success"] is False
    assert "validation" not in json.dumps(msg) and "Chatbot" not in json.dumps(msg)
    assert msg["output"].get("error") is None, msg["output"]


def test_a_decline_shows_only_the_sources_it_names(bm25_service):
    from ui import sources_html

    nonsense = bm25_service.answer("qwertyuiop zxcv")
    assert not nonsense.answered and sources_html(nonsense) == ""
    answered = bm25_service.answer("散居孤儿基本生活费每月多少")
    assert "已引用" in sources_html(answered) and len(answered.sources) >= 2
    named, unnamed = answered.sources[0], answered.sources[1]
    decline = answered.model_copy(
        update={
            "answered": False,
            "citations": [],
            "text": f"规划中没有找到能回答这个问题的内容。规划中相关的内容有：{named.readable}。",
        }
    )
    shown = sources_html(decline)
    assert f"{named.readable}（相关）" in shown and unnamed.readable not in shown
