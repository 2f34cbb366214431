"""The Gradio page: a thin adapter over Service.answer() for citizens (问答) and hotline staff (查询).

`build_ui(service)` returns the Blocks; `demo` is built on first access; `python ui.py` launches
it alone (the API server mounts the same Blocks, see assistant/server.py).
"""

from __future__ import annotations

import functools
import hmac
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
# The page's look. Normal mode fixes the theme's low-contrast spots (white on orange-500 is
# 3.5:1); 长辈版 (html.elder, set before the page renders, see HEAD) follows the MIIT 适老化 rules:
# text ≥ 1.5×, line spacing ≥ 1.3, black on white, thick borders and focus rings, larger buttons.
# Theme variables are redeclared on the root element (html.elder beats the theme's :root), so
# every derived size and colour follows; a dark system theme gives way to it (see HEAD).
CSS = """
.gradio-container {width: 100%; max-width: min(980px, 100vw) !important; margin: auto}
#lookup-results, #browse, #indicators, #tasks {overflow-x: auto}
html:root {
  --button-primary-background-fill: var(--primary-700);
  --button-primary-background-fill-hover: var(--primary-800);
  --button-primary-border-color: var(--primary-700);
  --button-primary-border-color-hover: var(--primary-800);
  --color-accent: var(--primary-700); /* the selected tab's text: orange-500 on white is 2.8:1 */
  --input-placeholder-color: var(--neutral-500);
}
html:root .dark {  /* the theme's dark colours, where they fall short (white on orange-600) */
  --button-primary-background-fill: var(--primary-700);
  --button-primary-background-fill-hover: var(--primary-800);
}
footer .show-api, footer a, footer button, footer span {color: #52525b !important}
.dark footer .show-api, .dark footer a, .dark footer button, .dark footer span {
  color: #d4d4d8 !important;
}
.gradio-container a {text-decoration: underline}
.gradio-container :focus-visible, footer :focus-visible {
  outline: 3px solid #1d4ed8 !important; outline-offset: 2px !important;
  transition: none !important; /* the theme's 0.2 s transition would fade the ring in from white */
}
#intro-row {align-items: flex-start}
/* an empty dropdown's text is the theme's pale grey (1.9:1): the body colour in every mode */
#doc-remove-pick input.subdued, #doc-filter input.subdued {color: var(--body-text-color) !important}
.doc-file label {display: block; font-weight: 600; margin-bottom: 6px}
.doc-file input[type="file"] {max-width: 100%}
#elder-toggle {flex: 0 0 auto !important; width: auto !important; min-width: 0 !important}
#elder-toggle label {font-weight: 600; white-space: nowrap}
#elder-toggle input[type="checkbox"] {width: 20px; height: 20px}
details.src {border: 1px solid #767676; border-radius: 6px; padding: 6px 10px; margin: 6px 0}
details.src summary {cursor: pointer; font-weight: 600}
details.src .body {white-space: pre-wrap; font-size: var(--text-md); line-height: 1.6; margin-top: 6px}
html:not(.can-speak) #read-aloud, html:not(.speaking) #read-stop {display: none !important}
html.elder {
  --text-xxs: 16px; --text-xs: 18px; --text-sm: 21px; --text-md: 22px; --text-lg: 26px;
  --text-xl: 30px; --text-xxl: 34px;
  --line-sm: 1.5; --line-md: 1.6; --line-lg: 1.7;
  --neutral-400: #404040; --neutral-500: #262626;
  --body-text-color: #000; --body-text-color-subdued: #1a1a1a; --block-label-text-color: #000;
  --block-title-text-color: #000; --block-info-text-color: #1a1a1a; --table-text-color: #000;
  --background-fill-primary: #fff; --background-fill-secondary: #fff; --block-background-fill: #fff;
  --input-background-fill: #fff; --input-placeholder-color: #404040;
  --border-color-primary: #000; --block-border-color: #000; --input-border-color: #000;
  --block-border-width: 2px; --input-border-width: 2px; --button-border-width: 2px;
  --color-accent: #7c2d12; --color-accent-soft: #fff1e6;
  --button-primary-background-fill: #7c2d12; --button-primary-background-fill-hover: #000;
  --button-primary-border-color: #000; --button-primary-text-color: #fff;
  --button-secondary-background-fill: #fff; --button-secondary-background-fill-hover: #fff1e6;
  --button-secondary-border-color: #000; --button-secondary-text-color: #000;
  --button-small-text-size: var(--text-md); --button-small-padding: 10px 14px;
  --button-large-text-size: var(--text-lg); --button-medium-text-size: var(--text-md);
  --chatbot-text-size: var(--text-lg); --input-text-size: var(--text-lg);
}
html.elder body, html.elder .gradio-container {background: #fff; color: #000}
html.elder .gradio-container {max-width: min(1100px, 100vw) !important}
html.elder .gradio-container button:not(.icon-button) {min-height: 56px}
html.elder #elder-toggle input[type="checkbox"] {width: 30px; height: 30px}
html.elder #chat label.float {display: none} /* at this size it would cover a line of the answer */
html.elder .gradio-container textarea, html.elder .gradio-container input {line-height: 1.5}
html.elder #chat .message-content, html.elder #sources, html.elder #card {line-height: 1.7}
html.elder #chat [data-testid="bot"], html.elder #chat [data-testid="user"] {
  border: 2px solid #000 !important; background: #fff !important; color: #000 !important;
}
html.elder details.src {border: 2px solid #000}
html.elder details.src summary {font-size: var(--text-lg); padding: 6px 0}
html.elder .gradio-container :focus-visible, html.elder footer :focus-visible {
  outline: 4px solid #000 !important; outline-offset: 2px !important;
  box-shadow: 0 0 0 8px #ffd60a !important;
}
html.elder [role="tab"] {font-size: var(--text-lg); min-height: 56px}
html.elder [role="tab"][aria-selected="true"] {text-decoration: underline 3px; font-weight: 700}
"""
# Runs in <head> before the page renders: the mode from ?mode=elder|normal or, without one,
# from localStorage (so a reload or the next visit keeps it); read aloud only with a local
# Chinese voice of the browser's own speech synthesis (localService: nothing leaves the machine).
HEAD = """<script>
(() => {
  const root = document.documentElement, KEY = "policyqa.mode";
  root.lang = "zh-CN";
  const store = (v) => { try { localStorage.setItem(KEY, v); } catch (e) {} };
  const asked = new URLSearchParams(location.search).get("mode");
  let elder = false;
  if (asked === "elder" || asked === "normal") { elder = asked === "elder"; store(asked); }
  else { try { elder = localStorage.getItem(KEY) === "elder"; } catch (e) {} }
  root.classList.toggle("elder", elder);
  const ss = window.speechSynthesis;
  // 长辈版 is black on white: the theme's dark colours (from a dark system setting) give way
  // while it is on, and come back with normal mode
  let wasDark = false;
  const keepLight = () => {
    const body = document.body;
    if (body && pq.elder() && body.classList.contains("dark")) {
      wasDark = true;
      body.classList.remove("dark");
    } else if (body && !pq.elder() && wasDark) {
      wasDark = false;
      body.classList.add("dark");
    }
  };
  const pq = window.policyqa = {
    elder: () => root.classList.contains("elder"),
    setElder(on) {
      root.classList.toggle("elder", !!on);
      store(on ? "elder" : "normal");
      keepLight();
    },
    voice: null,
    findVoice() {
      const zh = (ss ? ss.getVoices() : []).filter(
        (v) => v.localService && /^(zh|cmn|yue)([-_]|$)/i.test(v.lang || ""));
      return zh.find((v) => /CN|Hans/i.test(v.lang)) || zh[0] || null;
    },
    checkVoices() { pq.voice = pq.findVoice(); root.classList.toggle("can-speak", !!pq.voice); },
    speak() {
      const msgs = document.querySelectorAll('#chat [data-testid="bot"] .message-content');
      const last = msgs[msgs.length - 1];
      if (!ss || !pq.voice || !last) return;
      ss.cancel();
      const u = new SpeechSynthesisUtterance(last.innerText.trim());
      u.voice = pq.voice; u.lang = pq.voice.lang; u.rate = pq.elder() ? 0.85 : 1;
      // a cancelled utterance ends later, while the next one speaks: only the current one counts
      u.onend = u.onerror = () => { if (pq.current === u) pq.stop(); };
      pq.current = u;
      root.classList.add("speaking");
      ss.speak(u);
    },
    stop() { pq.current = null; if (ss) ss.cancel(); root.classList.remove("speaking"); },
  };
  document.addEventListener("DOMContentLoaded", () => {
    keepLight();
    new MutationObserver(keepLight).observe(document.body, {attributeFilter: ["class"]});
  });
  if (ss) {
    pq.checkVoices();
    if (ss.addEventListener) ss.addEventListener("voiceschanged", pq.checkVoices);
  }
})();
</script>"""


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
    if not answer.answered and not cited:
        # a decline shows only what it names as near ("规划中相关的内容有：…"); for "asdfgh" it
        # names nothing, and records ranked for nonsense are no sources to open
        others = [s for s in others if s.readable in answer.text]
        if not others:
            return ""
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


DOC_HEADERS = ["标题", "文号", "发布日期", "规划期", "条目数", "编号"]
ACCEPT = ".txt,.md,.markdown,.docx,.pdf"
FILE_INPUT = (
    '<div class="doc-file"><label for="doc-file">选择文件（.txt、.md、.docx 或文字版 .pdf）</label>'
    f'<input type="file" id="doc-file" name="file" accept="{ACCEPT}"></div>'
)
READ_ONLY = (
    "文件库为**只读**：服务器没有设置管理员密钥（POLICYQA_ADMIN_KEY），"
    "本页只能查看文件，不能添加或删除。"
)
ADMIN_HINT = (
    "查看无需登录。管理员输入密钥后可以上传或删除文件（密钥只保存在本页，关闭页面即失效）。"
)
# Upload and removal go from the browser straight to the API (POST/DELETE /v1/documents) with the
# administrator's key as its bearer: the same checks, limits and messages as any API client, and
# Gradio's own upload route stays closed (see assistant/server.py). The reply is a status line.
JS_SAY = """
const say = (text, ok) => {
  const p = document.createElement('p');
  p.setAttribute('role', 'status'); p.setAttribute('data-ok', ok ? '1' : '0');
  p.setAttribute('data-at', String(Date.now()));
  p.textContent = text;
  return p.outerHTML;
};
const api = (path) => new URL('v1/documents' + path, document.baseURI).href;
const reason = async (r) => {
  try { return (await r.json()).error.message || ''; } catch (e) { return ''; }
};
"""
JS_UPLOAD = (
    "async (key, id, title, issued) => {"
    + JS_SAY
    + """
  const input = document.querySelector('#doc-file');
  if (!input || !input.files || !input.files.length) return say('请先选择要上传的文件。', false);
  const form = new FormData();
  form.append('file', input.files[0]);
  if (id && id.trim()) form.append('id', id.trim());
  if (title && title.trim()) form.append('title', title.trim());
  if (issued && issued.trim()) form.append('issued', issued.trim());
  try {
    const r = await fetch(api(''), {method: 'POST', body: form,
                                    headers: {Authorization: 'Bearer ' + (key || '')}});
    if (r.ok) {
      const d = await r.json();
      input.value = '';
      return say(`已添加《${d.title}》（编号 ${d.id}，${d.records} 条），现在可以提问了。`, true);
    }
    return say('未能添加：' + ((await reason(r)) || '请稍后再试。') + ' 文件库没有改变。', false);
  } catch (e) {
    return say('网络出错，文件没有上传，请稍后再试。', false);
  }
}"""
)
JS_REMOVE = (
    "async (key, id) => {"
    + JS_SAY
    + """
  if (!id) return say('请先选择要删除的文件。', false);
  try {
    const r = await fetch(api('/' + encodeURIComponent(id)), {method: 'DELETE',
                          headers: {Authorization: 'Bearer ' + (key || '')}});
    if (r.ok) { const d = await r.json(); return say(`已删除《${d.title}》。`, true); }
    return say('未能删除：' + ((await reason(r)) || '请稍后再试。'), false);
  } catch (e) {
    return say('网络出错，文件没有删除，请稍后再试。', false);
  }
}"""
)


def say(text: str, ok: bool) -> str:
    """A status line of the 文件 tab (as the browser's upload and removal write them)."""
    return f'<p role="status" data-ok="{int(ok)}">{html.escape(text)}</p>'


def document_rows(docs) -> list[list]:
    """The 文件 tab's table: what a person recognises a document by, its ID last."""
    return [
        [d.title, d.doc_number or "—", d.issued or "—", d.period or "—", d.records, d.id]
        for d in docs
    ]


def build_ui(service, settings=None) -> gr.Blocks:
    """The page over `service`; `settings` (default: the service's) say whether documents may
    be added here (an administrator's key is set) or the 文件 tab is read-only."""
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
    def lookup(query: str, document: str = ""):
        query = (query or "").strip()
        if not query:
            return [], gr.skip()
        try:
            if document:  # one document's records only
                hits = service.search(query, k=10, documents=[document])
            else:
                hits = service.search(query, k=10)
        except ValueError as e:  # InputError: a message for the user
            return [[str(e), "", "", ""]], gr.skip()
        rows = [[h.id, h.title, KIND_LABELS.get(h.kind, h.kind), round(h.score, 4)] for h in hits]
        return rows, (hits[0].id if hits else gr.skip())

    @polite
    def open_card(cid: str):
        # the service's records as they are now: an added document's records open too
        rec = getattr(service, "by_id", by_id).get(cid) if isinstance(cid, str) else None
        if rec is None:
            return "", ""
        card = cards.card_markdown(rec)
        if card.startswith("### "):  # the card is the tab's main content: h2 under the page's h1
            card = card[1:]
        return card, cards.copy_text(rec)

    @polite
    def pick_row(table, evt: gr.SelectData):
        try:
            row = evt.index[0]
            return table.iloc[row, 0] if hasattr(table, "iloc") else table[row][0]
        except (IndexError, KeyError, TypeError):
            return gr.skip()

    admin_key = getattr(settings or service.settings, "admin_key", None)
    admin_key = admin_key.get_secret_value() if admin_key is not None else ""

    def documents():
        return service.library.list()

    @polite
    def refresh_documents(current_filter=""):
        """The table, the removable documents and the 查询 filter, from the library as it is."""
        docs = documents()
        ids = {d.id for d in docs}
        removable = [(f"{d.title}（{d.id}）", d.id) for d in docs if d.removable]
        return (
            document_rows(docs),
            gr.update(choices=removable, value=None),
            gr.update(
                choices=[("全部文件", ""), *((d.title, d.id) for d in docs)],
                value=current_filter if current_filter in ids else "",
            ),
        )

    @polite
    def admin_login(key: str):
        """Shows the administrator's tools when the key is right. The tools hold no power of
        their own: every upload and removal is checked by the API with the key again."""
        key = (key or "").strip()
        if not admin_key:
            return gr.update(visible=False), READ_ONLY
        if not key:
            return gr.update(visible=False), "请输入管理员密钥。"
        if hmac.compare_digest(key.encode(), admin_key.encode()):
            return gr.update(visible=True), "密钥正确：可以上传或删除文件。"
        return gr.update(visible=False), "密钥不正确，请重新输入。"

    @polite
    def ask_remove(doc_id: str):
        """The confirmation first: nothing is removed by one click."""
        doc = next((d for d in documents() if d.id == doc_id), None) if doc_id else None
        if doc is None:
            return gr.update(visible=False), "", say("请先选择要删除的文件。", ok=False)
        text = f"确定删除《{doc.title}》（{doc.id}，{doc.records} 条）吗？删除后它不再用于回答。"
        return gr.update(visible=True), text, ""

    @polite
    def browse(domain, unit):
        return cards.items_by(records, domain=domain or None, unit=unit or None)

    # ------------------------------------------------------------ layout

    with gr.Blocks(title="泉城政策通") as demo:
        with gr.Row(elem_id="intro-row"):  # wraps on a phone: the switch goes under the intro
            with gr.Column(scale=5, min_width=300):
                gr.Markdown(INTRO)
            elder = gr.Checkbox(
                label="长辈版（大字、高对比）",
                value=False,
                elem_id="elder-toggle",
                container=False,
            )
        with gr.Tabs():
            with gr.Tab("问答", id="ask"):
                chat = gr.Chatbot(
                    label="对话",
                    height=440,
                    elem_id="chat",
                    sanitize_html=True,
                    render_markdown=True,
                    feedback_options=None,
                    buttons=["copy", "copy_all"],  # no "share": it posts to Hugging Face
                    placeholder="您好！请问您想了解哪项基本公共服务？",
                )
                with gr.Row():
                    box = gr.Textbox(
                        label="您的问题（按回车发送）",
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
                    # shown only when the browser has a local Chinese voice (see HEAD)
                    read = gr.Button("🔊 朗读回答", elem_id="read-aloud", size="sm")
                    hush = gr.Button("⏹ 停止朗读", elem_id="read-stop", size="sm")
                    up = gr.Button("👍 有帮助", elem_id="fb-up", size="sm")
                    down = gr.Button("👎 没帮助", elem_id="fb-down", size="sm")
                    clear = gr.Button("重新开始", elem_id="clear", size="sm")
                comment = gr.Textbox(
                    label="意见（可选）",
                    placeholder="可选：告诉我们哪里不对（请勿填写身份证号、电话）",
                    show_label=False,
                    elem_id="fb-comment",
                )
                fb_status = gr.Markdown(elem_id="fb-status")
                last = gr.State({})

            with gr.Tab("查询", id="lookup"):
                gr.Markdown("输入名称、关键词或编号（如 清单-56、专栏7），结果随输入更新。")
                with gr.Row():
                    q = gr.Textbox(label="搜索条目", elem_id="lookup-q", scale=3, min_width=240)
                    doc_filter = gr.Dropdown(
                        [("全部文件", "")],
                        value="",
                        label="限定文件",
                        elem_id="doc-filter",
                        scale=2,
                        min_width=240,
                    )
                results = gr.Dataframe(
                    headers=["编号", "标题", "类型", "得分"],
                    interactive=False,
                    wrap=True,  # fits a phone's width instead of scrolling sideways
                    column_widths=["26%", "44%", "16%", "14%"],
                    elem_id="lookup-results",
                )
                with gr.Row():
                    domain = gr.Dropdown(
                        ["", *list(DOMAINS)],
                        value="",
                        label="按领域浏览",
                        elem_id="by-domain",
                        min_width=240,  # side by side on a desktop, one above the other on a phone
                    )
                    unit = gr.Dropdown(
                        ["", *cards.lead_units(records)],
                        value="",
                        label="按牵头负责单位浏览",
                        elem_id="by-unit",
                        min_width=240,
                    )
                browse_table = gr.Dataframe(
                    headers=["编号", "服务项目", "领域", "牵头负责单位"],
                    interactive=False,
                    wrap=True,
                    column_widths=["22%", "30%", "22%", "26%"],
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

            with gr.Tab("文件", id="docs") as docs_tab:
                gr.Markdown("本助手依据下列文件回答，回答中的出处会注明文件名称。")
                doc_table = gr.Dataframe(
                    headers=DOC_HEADERS,
                    interactive=False,
                    wrap=True,
                    column_widths=["34%", "18%", "13%", "13%", "9%", "13%"],
                    elem_id="doc-list",
                )
                if not admin_key:
                    gr.Markdown(READ_ONLY, elem_id="doc-mode")
                    admin_tools = None
                else:
                    gr.Markdown(ADMIN_HINT, elem_id="doc-mode")
                    with gr.Row():
                        key_box = gr.Textbox(
                            label="管理员密钥",
                            type="password",
                            elem_id="admin-key",
                            scale=3,
                            min_width=240,
                        )
                        login = gr.Button("验证密钥", elem_id="admin-login", scale=1)
                    login_status = gr.Markdown(elem_id="admin-status")
                    with gr.Column(visible=False, elem_id="admin-tools") as admin_tools:
                        gr.HTML(FILE_INPUT, elem_id="doc-file-box")
                        with gr.Row():
                            new_id = gr.Textbox(
                                label="文件编号（可选，如 jinan-2021-notice）",
                                elem_id="doc-id",
                                min_width=200,
                            )
                            new_title = gr.Textbox(
                                label="标题（可选，默认取文件中的标题）",
                                elem_id="doc-title",
                                min_width=200,
                            )
                            new_issued = gr.Textbox(
                                label="发布日期（可选，如 2021-06-01）",
                                elem_id="doc-issued",
                                min_width=200,
                            )
                        upload = gr.Button("上传并添加", variant="primary", elem_id="doc-upload")
                        with gr.Row():
                            to_remove = gr.Dropdown(
                                [],
                                label="删除文件",
                                elem_id="doc-remove-pick",
                                scale=3,
                                min_width=240,
                            )
                            remove = gr.Button("删除…", elem_id="doc-remove", scale=1)
                        with gr.Row(visible=False, elem_id="doc-confirm-row") as confirm_row:
                            confirm_text = gr.Markdown(elem_id="doc-confirm-text")
                            confirm = gr.Button("确认删除", variant="stop", elem_id="doc-confirm")
                            cancel = gr.Button("取消", elem_id="doc-cancel")
                    doc_status = gr.HTML(elem_id="doc-status")

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
        for emptied in (clear.click, chat.clear):  # 重新开始, and the chat's own 清空 button
            emptied(
                restart,
                None,
                [chat, sources, last, fb_status, status],
                cancels=asks,  # an answer still streaming does not refill the cleared chat
                api_visibility="private",
            )
        # 长辈版 and 朗读 run in the browser alone (window.policyqa, see HEAD): nothing to send
        # (`?.`: the Blocks may be launched without HEAD, e.g. `gradio ui.py`; then they do nothing)
        demo.load(
            None, None, elder, js="() => !!window.policyqa?.elder()", api_visibility="private"
        )
        elder.change(
            None, elder, None, js="(on) => window.policyqa?.setElder(on)", api_visibility="private"
        )
        read.click(None, js="() => window.policyqa?.speak()", api_visibility="private")
        hush.click(None, js="() => window.policyqa?.stop()", api_visibility="private")
        for searched in (q.change, doc_filter.change):
            searched(
                lookup,
                [q, doc_filter],
                [results, pick],
                trigger_mode="always_last",
                api_visibility="private",
            )
        if admin_tools is not None:
            listing = dict(
                fn=refresh_documents,
                inputs=[doc_filter],
                outputs=[doc_table, to_remove, doc_filter],
                api_visibility="private",
            )
        else:  # read-only: the table and the filter only

            def refresh_read_only(current=""):
                table, _, filt = refresh_documents(current)
                return table, filt

            listing = dict(
                fn=polite(refresh_read_only),
                inputs=[doc_filter],
                outputs=[doc_table, doc_filter],
                api_visibility="private",
            )
        demo.load(**listing)
        docs_tab.select(**listing)  # documents another administrator added meanwhile
        if admin_tools is not None:
            for entered in (login.click, key_box.submit):
                entered(admin_login, key_box, [admin_tools, login_status], api_visibility="private")
            upload.click(
                None,
                [key_box, new_id, new_title, new_issued],
                doc_status,
                js=JS_UPLOAD,
                api_visibility="private",
            ).then(**listing)
            remove.click(
                ask_remove,
                to_remove,
                [confirm_row, confirm_text, doc_status],
                api_visibility="private",
            )
            cancel.click(
                lambda: (gr.update(visible=False), ""),
                None,
                [confirm_row, confirm_text],
                api_visibility="private",
            )
            confirm.click(
                None, [key_box, to_remove], doc_status, js=JS_REMOVE, api_visibility="private"
            ).then(
                lambda: gr.update(visible=False), None, confirm_row, api_visibility="private"
            ).then(**listing)
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
    return {"css": CSS, "head": HEAD, "footer_links": ["api"], "show_error": False}


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
