"""Optional LLM answers over the retrieved sources, checked before anyone sees them.

The chain is LCEL on langchain-core: prompt | chat model | text. After generation every
citation must name a retrieved source and every number must occur in a cited source; an answer
that fails either check, or an endpoint that is down, slow or talks nonsense, gives way to the
extractive answer. A model is built with ``init_chat_model`` for any OpenAI-compatible endpoint.
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
from .text import fold

logger = logging.getLogger(__name__)

_CITATION = re.compile(r"\[((?:清单|分工|专栏)-\d+|章节-[^\]\s]{1,12})\]")
# numbers the assistant may always say: the plan's own dates and the hotline
_ALWAYS = {2018.0, 2016.0, 2020.0, 12345.0, 3.0, 15.0}  # 2018-03-15, the issue date
# a unit of government named in an answer: 市公安局, 市人力资源社会保障局, 县区政府, 省财政厅
_UNIT = re.compile(r"(?:市|省|县区?)[\u4e00-\u9fff]{1,12}?(?:局|委|办|厅|院|联|中心|政府|部门)")


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
    """Citations must be retrieved sources; numbers must occur in a cited source."""
    by_id = {s.id: s for s in sources}
    cited = list(dict.fromkeys(m.group(1) for m in _CITATION.finditer(text)))
    if not cited:
        return Checked(False, [], "no citation")
    stray = [c for c in cited if c not in by_id]
    if stray:
        return Checked(False, cited, f"cites sources that were not retrieved: {stray}")
    body = fold(_CITATION.sub(" ", text).replace(prompts.PERIOD_NOTICE, " "))
    evidence = fold(" ".join(by_id[c].text for c in cited))
    # numbers in any notation (800, 八百, 捌佰, 百分之九十九, 2.4万) compared as values
    invented = numbers.unsupported(body, evidence) - _ALWAYS
    if invented:
        shown = ", ".join(f"{v:g}" for v in sorted(invented))
        return Checked(False, cited, f"number {shown} is in no cited source")
    compact = re.sub(r"\s+", "", evidence)
    for m in _UNIT.finditer(body):
        unit = m.group()
        if unit not in compact and unit.removeprefix("市") not in compact:
            return Checked(False, cited, f"unit {unit} is in no cited source")
    return Checked(True, cited)


_MD_IMAGE = re.compile(r"!\[[^\]\n]{0,200}\]\([^)\n]{0,500}\)")
_MD_LINK = re.compile(r"\[([^\]\n]{0,200})\]\((?:https?:)?//[^)\n]{0,500}\)")
MAX_LLM_CHARS = 2000


def plain_text(raw: str) -> str:
    """LLM output is text with citations: no HTML (forms, images, scripts), no remote images or
    links, bounded length. Linear: bounded patterns over text already cut to length."""
    from .guard import strip_markup

    text = raw[: MAX_LLM_CHARS * 2]
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = strip_markup(text).replace("<", "＜").replace(">", "＞")
    return text[:MAX_LLM_CHARS]


def readable_citations(text: str, sources) -> str:
    """[清单-56] -> 〔清单第56项「孤儿养育保障」〕 for people; the IDs stay in Answer.citations."""
    by_id = {s.id: s for s in sources}
    return _CITATION.sub(
        lambda m: f"〔{by_id[m.group(1)].readable}〕" if m.group(1) in by_id else m.group(0), text
    )


def user_text(text: str) -> str:
    """User text as the model sees it: it cannot close its delimiters or pass for a source
    (a typed "[清单-48] …" block or "<<<" stays visibly the user's)."""
    return text.replace("<<<", "《《").replace(">>>", "》》").replace("[", "［").replace("]", "］")


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
