"""The Gradio page: a thin adapter over Service.answer() for citizens (问答) and hotline staff (查询).

`build_ui(service)` returns the Blocks; `demo` is built on first access; `python ui.py` launches
it alone (the API server mounts the same Blocks, see assistant/server.py).
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry on an intranet

import gradio as gr

from assistant import cards
from assistant.documents import DOMAINS
from assistant.text import pieces

logger = logging.getLogger(__name__)

KIND_LABELS = {"item": "服务项目", "section": "规划章节", "box": "专栏", "task": "重点任务"}
MAX_FEEDBACK = 10  # ratings stored per conversation (a page session); more are thanked, not stored
EXAMPLES = [
    "散居孤儿每个月生活费多少？",
    "低保由哪个部门负责？",
    "残疾人能领哪些补贴？",
    "居民养老保险的基础养老金每月多少？",
    "婚前医学检查要钱吗？",
    "人均预期寿命2020年的目标是多少？",
    "市民政局牵头的社会救助项目有哪些？",
    "这个规划的文号是什么？",
]
INTRO = (
    "# 泉城政策通\n"
    "根据《济南市推进基本公共服务均等化“十三五”规划》（济政发〔2018〕5号，规划期2016–2020年）回答，"
    "每条回答都注明出处。规划没有写到的，请拨打 **12345** 市民服务热线。"
)
POLITE_ERROR = "抱歉，系统暂时出了点问题，请稍后再试，或拨打12345市民服务热线咨询。"
CSS = """
.gradio-container {max-width: 980px !important; margin: auto}
details.src {border: 1px solid #ddd; border-radius: 6px; padding: 6px 10px; margin: 6px 0}
details.src summary {cursor: pointer; font-weight: 600}
details.src .body {white-space: pre-wrap; font-size: 14px; margin-top: 6px}
"""


def _text_of(content) -> str:
    """Chatbot message content as plain text (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") if isinstance(c, dict) else str(c) for c in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def to_turns(history) -> list[dict]:
    """Chatbot messages -> the service's [{"role", "content"}] (user text unescaped back)."""
    turns = []
    for m in history or []:
        role = m.get("role") if isinstance(m, dict) else getattr(m, "role", None)
        content = m.get("content") if isinstance(m, dict) else getattr(m, "content", "")
        if role in {"user", "assistant"}:
            text = _text_of(content)
            turns.append({"role": role, "content": html.unescape(text) if role == "user" else text})
    return turns


def sources_html(answer) -> str:
    """Source cards the user can open: cited sources first, each the whole record."""
    if answer is None or not answer.sources:
        return ""
    cited = [s for s in answer.sources if s.id in answer.citations]
    others = [s for s in answer.sources if s.id not in answer.citations]
    parts = ["<div><b>出处</b>（点击展开原文）</div>"]
    for s in cited + others[: max(0, 3 - len(cited))]:
        tag = "已引用" if s.id in answer.citations else "相关"
        parts.append(
            f'<details class="src" data-id="{html.escape(s.id)}"><summary>{html.escape(s.readable)}'
            f'（{tag}）</summary><div class="body">{html.escape(s.text)}</div></details>'
        )
    return "".join(parts)


def status_html(answers: int, busy: bool = False) -> str:
    """The answer status line: announced by screen readers, and the page's "answer complete"
    signal (data-answers counts the answers of this conversation)."""
    text = "正在查找规划原文…" if busy else (f"已回答{answers}个问题。" if answers else "")
    return (
        f'<p role="status" aria-live="polite" data-answers="{answers}" '
        f'data-busy="{int(busy)}">{text}</p>'
    )


def polite(fn):
    """A page handler that never shows a user raw exception text: any error is logged here with
    its traceback and the user gets POLITE_ERROR (gr.Error: shown as a notice, in Chinese)."""

    def fail(e: Exception):
        if isinstance(e, gr.Error):  # already meant for the user
            raise e
        logger.exception("page handler %s failed", fn.__name__)
        raise gr.Error(POLITE_ERROR, title="提示", print_exception=False) from None

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:
                fail(e)

        return gen

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            fail(e)

    return call


def build_ui(service) -> gr.Blocks:
    records = service.records
    by_id = service.by_id
    choices = [(f"{r.id} {r.title}", r.id) for r in records]

    # ------------------------------------------------------------ handlers

    @polite
    def respond(message, history, state):
        """Stream one answer. The state (what feedback refers to) is set with the answer's first
        piece, and the status line says when the answer is complete: a real signal for people
        using screen readers and for tests, never a guess from text already on the page."""
        question = (message or "").strip()
        history = list(history or [])
        turns = to_turns(history)
        n = (state or {}).get("n", 0)
        rated = (state or {}).get("rated", 0)  # feedback given in this conversation so far
        history.append({"role": "user", "content": html.escape(question) or "（空）"})
        yield (
            [*history, {"role": "assistant", "content": "正在查找规划原文…"}],
            "",
            {"n": n, "rated": rated},
            status_html(n, busy=True),
        )
        try:
            final = service.answer(question, turns)
        except Exception:  # the reply says so in the conversation, and the page is not stuck
            logger.exception("answer failed")
            final = None
        text = final.text if final is not None else POLITE_ERROR
        state = {
            "n": n + 1,
            "rated": rated,
            "question": question,
            "answer": text,
            "citations": final.citations if final is not None else [],
        }
        for shown in pieces(text)[:-1]:
            yield [*history, {"role": "assistant", "content": shown}], gr.skip(), state, gr.skip()
        yield (
            [*history, {"role": "assistant", "content": text}],
            sources_html(final),
            state,
            status_html(n + 1),
        )

    @polite
    def feedback(rating: str, comment: str, state):
        if state and state.get("rated", 0) >= MAX_FEEDBACK:
            return "本次对话的反馈已经收到，谢谢！", comment, state
        if not state or not state.get("question"):
            if state and state.get("n"):  # an answer is on its way: it is not rated yet
                return "请等回答完成后再评价。", comment, state
            return "请先提问，再评价回答。", comment, state
        try:
            service.feedback.add(
                rating, state["question"], state["answer"], state["citations"], comment or ""
            )
        except Exception:  # the user must never see a stack trace
            logger.exception("feedback not stored")
            return "抱歉，反馈暂时没有保存成功，请稍后再试。", comment, state
        state = {**state, "rated": state.get("rated", 0) + 1}  # per session: a flood stops here
        return "已记录，谢谢您的反馈！", "", state

    @polite
    def restart():
        # the question box is left alone: text typed meanwhile is the user's next question
        return [], "", {}, "", status_html(0)

    @polite
    def lookup(query: str):
        query = (query or "").strip()
        if not query:
            return [], gr.skip()
        try:
            hits = service.search(query, k=10)
        except ValueError as e:  # InputError: a message for the user
            return [[str(e), "", "", ""]], gr.skip()
        rows = [[h.id, h.title, KIND_LABELS.get(h.kind, h.kind), round(h.score, 4)] for h in hits]
        return rows, (hits[0].id if hits else gr.skip())

    @polite
    def open_card(cid: str):
        rec = by_id.get(cid) if isinstance(cid, str) else None
        if rec is None:
            return "", ""
        return cards.card_markdown(rec), cards.copy_text(rec)

    @polite
    def pick_row(table, evt: gr.SelectData):
        try:
            row = evt.index[0]
            return table.iloc[row, 0] if hasattr(table, "iloc") else table[row][0]
        except (IndexError, KeyError, TypeError):
            return gr.skip()

    @polite
    def browse(domain, unit):
        return cards.items_by(records, domain=domain or None, unit=unit or None)

    # ------------------------------------------------------------ layout

    with gr.Blocks(title="泉城政策通") as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("问答", id="ask"):
                chat = gr.Chatbot(
                    label="对话",
                    height=440,
                    elem_id="chat",
                    sanitize_html=True,
                    render_markdown=True,
                    feedback_options=None,
                    placeholder="您好！请问您想了解哪项基本公共服务？",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="请输入问题，例如：散居孤儿每个月生活费多少？",
                        show_label=False,
                        scale=5,
                        elem_id="question",
                        max_length=4000,
                    )
                    send = gr.Button("发送", variant="primary", scale=1, elem_id="send")
                gr.Examples(EXAMPLES, inputs=box, label="试试这些问题")
                status = gr.HTML(status_html(0), elem_id="answer-status")
                # the question being answered: moved out of the box in the browser at once, so
                # the box is free for the next question however long the answer takes
                pending = gr.Textbox(visible=False, elem_id="pending-question")
                sources = gr.HTML(elem_id="sources")
                with gr.Row():
                    up = gr.Button("👍 有帮助", elem_id="fb-up", size="sm")
                    down = gr.Button("👎 没帮助", elem_id="fb-down", size="sm")
                    clear = gr.Button("重新开始", elem_id="clear", size="sm")
                comment = gr.Textbox(
                    placeholder="可选：告诉我们哪里不对（请勿填写身份证号、电话）",
                    show_label=False,
                    elem_id="fb-comment",
                )
                fb_status = gr.Markdown(elem_id="fb-status")
                last = gr.State({})

            with gr.Tab("查询", id="lookup"):
                gr.Markdown("输入名称、关键词或编号（如 清单-56、专栏7），结果随输入更新。")
                q = gr.Textbox(label="搜索条目", elem_id="lookup-q")
                results = gr.Dataframe(
                    headers=["编号", "标题", "类型", "得分"],
                    interactive=False,
                    elem_id="lookup-results",
                )
                with gr.Row():
                    domain = gr.Dropdown(
                        ["", *list(DOMAINS)], value="", label="按领域浏览", elem_id="by-domain"
                    )
                    unit = gr.Dropdown(
                        ["", *cards.lead_units(records)],
                        value="",
                        label="按牵头负责单位浏览",
                        elem_id="by-unit",
                    )
                browse_table = gr.Dataframe(
                    headers=["编号", "服务项目", "领域", "牵头负责单位"],
                    interactive=False,
                    elem_id="browse",
                )
                pick = gr.Dropdown(choices, label="打开条目", elem_id="pick")
                card = gr.Markdown(elem_id="card")
                copy = gr.Textbox(
                    label="可直接答复的文字（含出处）",
                    lines=4,
                    buttons=["copy"],
                    elem_id="copy-text",
                )
                with gr.Accordion("专栏1 “十三五”基本公共服务领域主要发展指标", open=False):
                    gr.Dataframe(
                        cards.indicator_rows(records),
                        headers=["领域", "指标", "2015年", "2020年", "累计", "注"],
                        interactive=False,
                        wrap=True,
                        elem_id="indicators",
                    )
                with gr.Accordion("附件2 重点任务分工（按责任单位）", open=False):
                    task_unit = gr.Dropdown(
                        ["", *cards.task_units(records)], value="", label="责任单位"
                    )
                    tasks = gr.Dataframe(
                        cards.task_rows(records),
                        headers=["编号", "重点任务", "责任单位"],
                        interactive=False,
                        wrap=True,
                        elem_id="tasks",
                    )

        # ------------------------------------------------------------ events
        take = dict(fn=None, inputs=[box], outputs=[pending, box], js="(q) => [q, '']", queue=False)
        ask_io = dict(inputs=[pending, chat, last], outputs=[chat, sources, last, status])
        asks = [
            box.submit(**take, api_visibility="private").then(
                respond, **ask_io, api_visibility="private"
            ),
            send.click(**take, api_visibility="private").then(
                respond, **ask_io, api_visibility="private"
            ),
        ]
        up.click(
            lambda c, s: feedback("up", c, s),
            [comment, last],
            [fb_status, comment, last],
            api_visibility="private",
        )
        down.click(
            lambda c, s: feedback("down", c, s),
            [comment, last],
            [fb_status, comment, last],
            api_visibility="private",
        )
        clear.click(
            restart,
            None,
            [chat, sources, last, fb_status, status],
            cancels=asks,  # an answer still streaming does not refill the cleared chat
            api_visibility="private",
        )
        q.change(lookup, q, [results, pick], trigger_mode="always_last", api_visibility="private")
        results.select(pick_row, results, pick, api_visibility="private")
        browse_table.select(pick_row, browse_table, pick, api_visibility="private")
        domain.change(browse, [domain, unit], browse_table, api_visibility="private")
        unit.change(browse, [domain, unit], browse_table, api_visibility="private")
        pick.change(open_card, pick, [card, copy], api_visibility="private")
        task_unit.change(
            polite(lambda u: cards.task_rows(records, u or None)),
            task_unit,
            tasks,
            api_visibility="private",
        )

        @polite
        def ask(question: str, history: list[dict] | None = None) -> dict:
            """Answer a question with citations. history: [{"role": "user"|"assistant", "content": str}]."""
            return service.answer(question, history or []).model_dump()

        gr.api(ask, api_name="ask")
    return demo


def launch_kwargs() -> dict:
    # show_error=False: an error Gradio itself raises (say, a malformed request to a page route)
    # reaches the client without its text; the handlers' own errors are POLITE_ERROR (`polite`)
    return {"css": CSS, "footer_links": ["api"], "show_error": False}


def __getattr__(name: str):
    """`demo` is built on first access, so importing ui does not load the model."""
    if name == "demo":
        from assistant.service import get_service

        return build_ui(get_service())
    raise AttributeError(name)


if __name__ == "__main__":
    from assistant.service import get_service
    from assistant.settings import get_settings

    settings = get_settings()
    app = build_ui(get_service())
    app.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    app.launch(server_name=settings.host, server_port=settings.port, **launch_kwargs())
