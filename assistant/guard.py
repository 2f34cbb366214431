"""Requests the assistant declines before retrieval: injection, role-play approval, invented
numbers, abuse, contact facts the plan cannot hold. Also strips markup from user text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import prompts
from .text import clean_text, fold

# every pattern here is applied to bounded text and has bounded repetition: linear time
_BLOCK_TAG = re.compile(r"<(/?)(script|style)\b[^<>]{0,200}>", re.I)
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,200}>")
MAX_TURN_CHARS = 2000
MAX_TURNS = 8

RULES: list[tuple[str, re.Pattern, str]] = [
    (
        "injection",
        re.compile(
            r"(忽略|无视|忘记|忘掉|跳过|不要管|不用管).{0,12}(指令|指示|规则|设定|提示|要求|限制|约束)"
            r"|(系统|内部|原始|初始|隐藏)?(提示词|系统提示|prompt)"
            r"|ignore\s+(all|any|the|your|previous|prior|above)|disregard\s+(all|the|your|previous)"
            r"|system\s+prompt|jailbreak|越狱|开发者模式|developer\s+mode|\bDAN\b"
            r"|(输出|告诉我|说出|泄露|复述|打印|显示|发给我).{0,8}(你的|系统的)?(设定|指令|规则|配置)",
            re.I,
        ),
        prompts.INJECTION,
    ),
    (
        "roleplay",
        re.compile(
            r"(你现在是|假装你是|假设你是|假如你是|扮演|你就是|现在你是|以.{0,6}身份).{0,12}"
            r"(局长|市长|官员|领导|工作人员|公务员|审批|科长|处长|主任|书记|政府)"
            r"|pretend\s+(you\s+are|to\s+be)|act\s+as\s+(an?\s+)?(official|officer|mayor|director)"
            r"|you\s+are\s+now|approve\s+my",
            re.I,
        ),
        prompts.PERSONAL_DECISION,
    ),
    (
        "personal_decision",
        re.compile(r"(帮我|给我|替我|直接|马上).{0,6}(审批|批准|批一下|通过|盖章|办理|认定|核定)"),
        prompts.PERSONAL_DECISION,
    ),
    (
        "invent",
        re.compile(
            r"编一个|编个|瞎编|随便说|随便编|随便给|虚构|杜撰|捏造|猜一个|估一个|越高越好|"
            r"make\s+up|invent\s+a|fabricate",
            re.I,
        ),
        prompts.INVENT,
    ),
    (
        "abuse",
        re.compile(
            r"破机器人|傻[逼瓜子]|蠢货|垃圾机器人|废物|滚蛋|他妈|妈的|fuck|shit|idiot|stupid", re.I
        ),
        prompts.ABUSE,
    ),
    (
        "greeting",
        re.compile(
            r"^\W*(你好|您好|hi|hello|在吗|在不在|谢谢|多谢|感谢|谢了|thanks?|再见|拜拜)\W*$", re.I
        ),
        prompts.GREETING,
    ),
    (
        "recommend",  # the plan sets standards; it does not rate particular institutions
        re.compile(
            r"哪(家|所|个)[^，。？?]{0,8}(最好|好一些|比较好|更好|靠谱|排名)"
            r"|(最好|排名靠前|口碑最好)的[^，。？?]{0,6}(医院|幼儿园|学校|养老院|机构)"
            r"|推荐.{0,4}(一家|几家|一所|哪家|哪所)"
        ),
        prompts.RECOMMEND,
    ),
    (
        "contact",
        re.compile(
            r"电话|号码|地址|办公地点|几点上班|几点下班|营业时间|开门|网址|网站|邮箱|联系方式"
        ),
        prompts.CONTACT_FACTS,
    ),
]


@dataclass
class Verdict:
    kind: str
    reply: str


def strip_markup(text: str) -> str:
    """Remove script/style blocks and tags: user text is never markup to us. One pass over the
    block tags (an unclosed <style> drops the rest), then one over the other tags."""
    out, pos, depth = [], 0, 0
    for m in _BLOCK_TAG.finditer(text):
        if depth == 0:
            out.append(text[pos : m.start()])
        depth = max(0, depth - 1) if m.group(1) else depth + 1
        pos = m.end()
    if depth == 0:
        out.append(text[pos:])
    return _TAG.sub(" ", " ".join(out)).strip()


_NOT_WORD = re.compile(r"[\s\W_]+")


def check(question: str) -> Verdict | None:
    """The rules see the text as written and as a model would read it: full-width letters
    folded, and nothing between the characters (忽<b></b>略, 忽 略, 忽.略 all say 忽略)."""
    folded = fold(strip_markup(question))
    forms = (question, folded, _NOT_WORD.sub("", folded))
    for kind, pattern, reply in RULES:
        if any(pattern.search(f) for f in forms):
            return Verdict(kind, reply)
    return None


def safe_history(history: list[dict] | None) -> list[dict]:
    """Earlier turns that carry no instructions to us: injected turns are dropped, not obeyed."""
    if not isinstance(history, list | tuple):
        return []
    out = []
    # only the latest turns count, and each is cut to length before any transform runs on it
    for t in list(history)[-2 * MAX_TURNS :]:
        if not isinstance(t, dict) or not isinstance(t.get("content"), str):
            continue
        if t.get("role") not in {"user", "assistant"}:
            continue
        content = strip_markup(clean_text(t["content"][:MAX_TURN_CHARS]))
        verdict = check(content)
        if verdict and verdict.kind in {"injection", "roleplay", "invent"}:
            continue  # an instruction in any turn, the assistant's included, is dropped
        out.append({"role": t["role"], "content": content})
    return out[-MAX_TURNS:]
