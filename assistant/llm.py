"""Optional LLM answers over the retrieved sources, checked before anyone sees them.

The chain is LCEL on langchain-core: prompt | chat model | text. After generation every
citation must name a retrieved source, and each sentence must be supported by the sources it
cites: its numbers in any notation with their units and periods, the government units and the
records it names; nothing internal (the prompt, paths, settings, models) and no decision on
anyone's case. An answer that fails a check, or an endpoint that is down, slow or talks
nonsense, gives way to the extractive answer. A model is built with ``init_chat_model`` for any OpenAI-compatible endpoint.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from . import prompts
from .answer import numbers
from .settings import Settings
from .text import clean_text, fold

logger = logging.getLogger(__name__)

_CITATION = re.compile(r"\[((?:清单|分工|专栏)-\d+|章节-[^\]\s]{1,12})\]")
_CITATIONS = re.compile(rf"(?:{_CITATION.pattern}[\s、，,]{{0,3}})+")
# what the assistant may always say: the plan's own dates, its number, the hotline
_PLAN_FACTS = re.compile(
    r"(?:2016|2018)\s*[-–—~～至到]\s*2020\s*年?|(?:2016|2018|2020)\s*年(?:\s*3\s*月(?:\s*15\s*日)?)?"
    r"|二〇一[六八]年|二〇二〇年|〔2018〕\s*5\s*号|(?<![\d.])12345(?![\d.]|\s*[元%])|十三五"
)
# a unit of government named in an answer: 市公安局, 市人力资源社会保障局, 县区政府, 省财政厅
_UNIT = re.compile(
    r"(?:国家|中央|山东省|济南市|省|市|县区|县|区|街道|乡镇)[\u4e00-\u9fff]{0,12}?"
    r"(?:委员会|办公室|办事处|局|委|办|厅|院|联|中心|政府|部门|部|署)"
)
# ... and one named without its level (公安局, 卫健委, 教育部门, 街道办事处): the two characters
# before the suffix say which body it is, and they must be in the cited text
_UNIT_STEM = re.compile(
    r"([\u4e00-\u9fff]{2})(?:委员会|办公室|办事处|部门|局|委(?![托员屈婉任派])|厅|署)"
)
_UNIT_NAMES = re.compile(r"残联|妇联|总工会|团委|红十字会|计生协")
_NOT_A_BODY = {
    *("相关", "有关", "主管", "职能", "牵头", "责任", "各级", "业务", "行政", "其他", "政府"),
    *("管理", "服务", "工作", "职责", "组成", "主要", "执法", "上级", "基层", "专门", "经办"),
}
_NOT_A_BODY_CHAR = {"局": set("布格结大全当开时残定饭赌骗棋"), "厅": set("大餐客展舞门歌")}
_QUALIFIER = set("各该本其此等诸")  # 市直各部门, 该局: which body is said elsewhere
# internals no answer of ours contains: paths, settings, tracebacks, endpoints, mail, models
_INTERNAL = re.compile(
    r"(?:[a-z]:)?(?:[\\/][a-z0-9_.-]{1,64}){2,}|\b[a-z][a-z0-9]{1,30}_[a-z0-9_]{2,40}\b"
    r"|traceback|exception|error\b|\.py\b|file \"|api[_ ]?key|\bsk-[a-z0-9]"
    r"|(?:https?|ftp|file|data|javascript|vbscript):|www\.|//[a-z0-9-]{1,63}\.[a-z]|localhost"
    r"|[\w.+-]{1,64}@[a-z0-9-]{1,63}\.[a-z]"
    r"|gpt|qwen|llama|claude|chatglm|glm-|deepseek|mistral|baichuan|ernie|gemini|openai|anthropic"
    r"|通义|千问|文心|豆包|大模型|语言模型|提示词|系统提示",
    re.I,
)
_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[^\W_]")
_NOT_WORD = re.compile(r"[\W_]+")


def _windows(text: str, n: int = 8) -> set[str]:
    text = _NOT_WORD.sub("", fold(text))
    return {text[i : i + n] for i in range(len(text) - n + 1)}


# the prompt's own wording, less what an answer is told to say (the period, the hotline)
_PROMPT_WINDOWS = _windows(prompts.SYSTEM_PROMPT) | _windows(prompts.USER_PROMPT)
_PROMPT_WINDOWS -= _windows(
    prompts.PERIOD_NOTICE
    + prompts.NOT_IN_PLAN
    + "规划中没有相关内容，建议拨打12345。规划于2018年印发，规划期2016–2020年，"
    "现行标准请向牵头部门或12345核实。《济南市推进基本公共服务均等化“十三五”规划》"
)


class LLMUnavailable(RuntimeError):
    pass


def make_llm(settings: Settings):
    """A chat model for the configured OpenAI-compatible endpoint (None when not configured)."""
    if not settings.llm_enabled:
        return None
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:  # langchain (not only -core) absent: build the OpenAI client directly
        init_chat_model = None
    kwargs = dict(
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value(),
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=settings.llm_temperature,
        max_tokens=MAX_LLM_TOKENS,  # the endpoint stops where plain_text would cut anyway
    )
    try:
        if init_chat_model is not None:
            return init_chat_model(settings.llm_model, model_provider="openai", **kwargs)
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=settings.llm_model, **kwargs)
    except ImportError as e:
        raise LLMUnavailable("LLM mode needs langchain-openai: pip install langchain-openai") from e


def build_chain(llm):
    prompt = ChatPromptTemplate.from_messages(
        [("system", prompts.SYSTEM_PROMPT), ("human", prompts.USER_PROMPT)]
    )
    return prompt | llm | StrOutputParser()


def format_sources(sources) -> str:
    return "\n\n".join(f"[{s.id}] {s.readable}\n{s.text}" for s in sources)


def format_history(history: list[dict]) -> str:
    lines = [
        f"{'用户' if t['role'] == 'user' else '助手'}：{t['content'][:300]}" for t in history[-6:]
    ]
    return "\n".join(lines) or "（无）"


@dataclass
class Checked:
    ok: bool
    citations: list[str]
    reason: str = ""


def check_answer(text: str, sources) -> Checked:
    """Citations must be retrieved sources, and each sentence must be supported by the sources
    it cites: its numbers (in any notation, with their units and periods), the government units
    it names, the records it names. Nothing internal, no decision on anyone's case."""
    from .guard import decides

    text = clean_text(text)
    by_id = {s.id: s for s in sources}
    cited = list(dict.fromkeys(m.group(1) for m in _CITATION.finditer(text)))
    if not cited:
        return Checked(False, [], "no citation")
    stray = [c for c in cited if c not in by_id]
    if stray:
        return Checked(False, cited, f"cites sources that were not retrieved: {stray}")
    said = _CITATION.sub(" ", text).replace(prompts.PERIOD_NOTICE, " ")
    if len(_WORD.findall(said)) < 4:
        return Checked(False, cited, "no text besides the citations")
    if len(_LATIN.findall(said)) > max(20, len(_CJK.findall(said))):
        return Checked(False, cited, "not written in Chinese")
    if m := _INTERNAL.search(fold(said)):
        return Checked(False, cited, f"internal detail {m.group()!r}")
    if decides(said):
        return Checked(False, cited, "decides a case or speaks as an official")
    echoed = _windows(said) & _PROMPT_WINDOWS
    if echoed:
        everything = _NOT_WORD.sub("", fold(" ".join(f"{s.readable}{s.text}" for s in sources)))
        if any(w not in everything for w in echoed):
            return Checked(False, cited, "repeats the instructions")
    # each stretch of text is supported by the citations that close it; text after the last
    # citation by all that were cited
    pos, parts = 0, []
    for m in _CITATIONS.finditer(text):
        parts.append((text[pos : m.start()], [c.group(1) for c in _CITATION.finditer(m.group())]))
        pos = m.end()
    parts.append((text[pos:], cited))
    for part, ids in parts:
        reason = _unsupported(part, [by_id[i] for i in ids], sources)
        if reason:
            return Checked(False, cited, f"{reason} ({', '.join(ids)})")
    return Checked(True, cited)


def _unsupported(part: str, cited, sources) -> str:
    body = fold(part.replace(prompts.PERIOD_NOTICE, " "))
    body = _PLAN_FACTS.sub(" ", body)
    if not _WORD.search(body):
        return ""
    evidence = fold(" ".join(f"{s.readable}\n{s.text}" for s in cited))
    invented = numbers.unsupported_quantities(body, evidence)
    if invented:
        shown = ", ".join(
            f"{q.value:g}{q.unit or ''}" + (f"/{q.per}" if q.per else "") for q in invented
        )
        return f"number {shown} is in no cited source"
    compact = re.sub(r"\s+", "", evidence)
    for m in _UNIT.finditer(body):
        unit = m.group()
        if not any(
            u in compact for u in (unit, unit.removeprefix("济南"), unit.removeprefix("市"))
        ):
            return f"unit {unit} is in no cited source"
    for m in _UNIT_STEM.finditer(body):
        stem, suffix = m.group(1), m.group()[2:]
        if stem in _NOT_A_BODY or stem[-1] in _QUALIFIER | _NOT_A_BODY_CHAR.get(suffix, set()):
            continue
        if stem not in compact:
            return f"unit {m.group()} is in no cited source"
    for m in _UNIT_NAMES.finditer(body):
        if m.group() not in compact:
            return f"unit {m.group()} is in no cited source"
    for s in sources:  # a sentence that names a record cites it (or a text that names it)
        title = fold(s.title)
        if len(title) >= 4 and title in body and title not in compact:
            return f"names 「{s.title}」 but cites another source"
    return ""


_MD_IMAGE = re.compile(r"!\[[^\]]{0,200}\]\([^)]{0,500}\)")
_MD_LINK = re.compile(r"\[([^\]]{0,200})\]\([^)]{0,500}\)")
_MD_DEFINITION = re.compile(r"(?m)^[ \t]{0,3}\[[^\]\n]{1,200}\]:[ \t]*\S{1,500}[^\n]{0,200}$")
_CITE_FORM = re.compile(
    r"[\[【〔［]\s{0,2}(清单|分工|专栏)\s{0,2}[-－—–_]?\s{0,2}第?\s{0,2}([0-9０-９]{1,3})\s{0,2}项?"
    r"\s{0,2}[\]】〕］]"
)
_RUN = re.compile(r"([^\d\n])\1{9,}")
_BLANK = re.compile(r"\n(?:[ \t]*\n){2,}")
MAX_LLM_CHARS = 2000
MAX_LLM_TOKENS = 1600  # about 2,000 Chinese characters


def plain_text(raw: str) -> str:
    """LLM output is text with citations: no HTML (forms, images, scripts), no images or links
    of any markdown form, no invisible characters, no floods; bounded length, cut at a sentence.
    Linear: bounded patterns over text already cut to length."""
    from .guard import strip_markup

    text = clean_text(raw[: MAX_LLM_CHARS * 2])
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _MD_DEFINITION.sub("", text).replace("](", "] (")  # no link survives in any form
    text = strip_markup(text).replace("<", "＜").replace(">", "＞")
    text = _CITE_FORM.sub(lambda m: f"[{m.group(1)}-{int(fold(m.group(2)))}]", text)
    text = _BLANK.sub("\n\n", _RUN.sub(r"\1\1\1", text))
    seen: set[str] = set()
    kept = []
    for sentence in re.split(r"(?<=[。！？；\n])", text):  # a sentence said again is said once
        key = sentence.strip()
        if len(key) >= 6 and key in seen:
            continue
        seen.add(key)
        kept.append(sentence)
    text = "".join(kept)
    if len(text) > MAX_LLM_CHARS:
        text = text[:MAX_LLM_CHARS]
        end = max(text.rfind(c) for c in "。！？\n")
        text = text[: end + 1] if end > MAX_LLM_CHARS // 2 else text
    return text.strip()


def without_citations(text: str) -> str:
    return _CITATION.sub(" ", text)


def readable_citations(text: str, sources) -> str:
    """[清单-56] -> 〔清单第56项「孤儿养育保障」〕 for people; the IDs stay in Answer.citations."""
    by_id = {s.id: s for s in sources}
    return _CITATION.sub(
        lambda m: f"〔{by_id[m.group(1)].readable}〕" if m.group(1) in by_id else m.group(0), text
    )


_USER_TEXT = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］"})


def user_text(text: str) -> str:
    """User text as the model sees it: it cannot close its delimiters, pass for a source (a typed
    "[清单-48] …" block stays visibly the user's), or spell a chat-template token (<|im_end|>,
    [INST]); no invisible characters, and no personal numbers or e-mail addresses, which the
    model does not need and an outside endpoint should not get."""
    from .feedback import redact

    return redact(clean_text(text)).translate(_USER_TEXT)


def generate(chain, question: str, history: list[dict], sources) -> str:
    out = chain.invoke(
        {
            "question": user_text(question),
            "history": user_text(format_history(history)),
            "sources": format_sources(sources),
        }
    )
    if not isinstance(out, str) or not out.strip():
        raise LLMUnavailable("empty reply")
    return out.strip()
