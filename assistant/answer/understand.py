"""Understand one user turn against the conversation before it, once: a `Turn` that retrieval
ranks for and the composer reads, instead of each of them re-reading the history.

A turn holds its own words (a bare "第11项" already read as the list the conversation is on),
whether it leans on earlier turns, the subject those turns were about (the sources the answers
cited, or the record a plain-text answer repeats, and the records the user named), what it asks
(the ask clause of a story, and whether its kind of ask is the previous question's) and the
situation told around the ask. Assistant turns are text the client sends back: only IDs that
exist count, and a plain-text answer is read for the record whose words it repeats."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..documents import CN_NUM
from .numbers import arabic_ids

CJK = re.compile(r"[\u4e00-\u9fff]")
_BARE_ORDINAL = re.compile(r"(?<![清单分工专栏\d])第(\d{1,3})项")
_FOLLOWUP = re.compile(
    r"^(那|那么|那个|这个|这项|该项|此项|还有|另外|此外|同样|它|他们|其|如果是|要是)"
    r"|呢[？?。！!]*$"
    r"|(这个|这项|该项|此项|这些|那些|上述|上面|前面|刚才|以上|它的|他们的|其中|这方面|该服务|这一项)"
    # a demonstrative with a measure word points back ("这笔钱", "那一档", "这三档", "这种情况"), and
    # "除了…还" adds to what was said
    r"|[这那该此][一二两三四五六七八九十几\d]?[笔档种类块份样次条]|^除了"
    # the domain or subject just talked about ("该领域的任务", "与此相关的指标")
    r"|[这那该此](?:个|一)?领域|与此|与之"
    # a pronoun for a group or a thing, with nothing in the turn it could stand for ("谁来管他们",
    # "其覆盖目标"); 她/他 stand for a person the turn itself tells of ("俺媳妇…她能参加不")
    r"|他们|她们|它|(?<![尤极])其(?![他它中余实次])"
)
# a topic said first and marked as such ("孩子上学这块", "住房这一方面")
_NAMED_TOPIC = re.compile(r"([\u4e00-\u9fff]{2,8}?)[这那](?:一)?(?:块儿?|方面)")
_CITED = re.compile(
    rf"(清单|分工|专栏)-(\d+)|清单第(\d+)项|重点任务分工第(\d+)项|专栏(\d+)"
    rf"|章节-([{CN_NUM}]+(?:（[{CN_NUM}]+）)?|序言)"
)
# a topic set first ("上了普高呢，助学金多少"): the turn says itself what it is about
_OWN_TOPIC = re.compile(r"[\u4e00-\u9fff]{2,}呢[，,\s]")
_CLAUSES = re.compile(r"[，,。；;！!？?\n]+")
MAX_TURNS = 8  # the latest messages of a conversation that are read


def cited_ids(text: str) -> list[str]:
    """Citation IDs mentioned in an assistant turn, in order."""
    out: list[str] = []
    for m in _CITED.finditer(text or ""):
        if m.group(1):
            cid = f"{m.group(1)}-{m.group(2)}"
        elif m.group(3):
            cid = f"清单-{m.group(3)}"
        elif m.group(4):
            cid = f"分工-{m.group(4)}"
        elif m.group(5):
            cid = f"专栏-{m.group(5)}"
        else:
            cid = f"章节-{m.group(6)}"
        if cid not in out:
            out.append(cid)
    return out


def ask_clause(question: str, names_something: Callable[[str], bool]) -> str:
    """The ask of a question told as a story: its last clause that names something (a tag like
    真的假的 names nothing), with the clause before when it is very short (火化，要钱不).
    The whole question when it is one clause."""
    clauses = [c.strip() for c in _CLAUSES.split(question) if c.strip()]
    if len(clauses) < 2:
        return question
    for i in range(len(clauses) - 1, -1, -1):
        if names_something(clauses[i]):
            if len(clauses[i]) <= 4 and i > 0:
                return clauses[i - 1] + "，" + clauses[i]
            return clauses[i]
    return question


def messages(history: list[dict] | None) -> list[dict]:
    """The conversation's latest user and assistant messages that are text."""
    turns = [
        t
        for t in history or []
        if isinstance(t, dict)
        and isinstance(t.get("content"), str)
        and t.get("role") in {"user", "assistant"}
    ]
    return turns[-MAX_TURNS:]


@dataclass
class Turn:
    """One user turn, resolved against the conversation before it."""

    text: str  # the user's words; a bare ordinal read as the conversation's list
    followup: bool = False  # leans on earlier turns
    query: str = ""  # self-contained: a follow-up's words with the earlier user words after them
    previous: str = ""  # the user's question before this one (a follow-up's)
    prior: list[str] = field(default_factory=list)  # earlier answers' sources, latest first (≤3)
    cited: list[str] = field(default_factory=list)  # IDs earlier answers cite by name
    earlier: list[str] = field(default_factory=list)  # records the user named, latest turn first
    ask: str = ""  # the clause that asks; the whole text when it is one clause
    situation: str = ""  # the rest of a story: who asks and their case

    def __post_init__(self) -> None:
        self.query = self.query or self.text
        self.ask = self.ask or self.text


class Understanding:
    """Reads a turn against its conversation with the plan's index: what names a record
    (`lookup`), what a plain-text answer repeats (`quoted`), what names a subject of the plan,
    and, for a short turn with no word pointing back, whether it is a question of its own
    (`stands_alone`, the retriever's nearest training questions)."""

    def __init__(self, index, stands_alone: Callable[[str], bool] | None = None):
        self.index = index
        self.stands_alone = stands_alone or (lambda _q: not CJK.search(_q))

    def turn(self, question: str, history: list[dict] | None = None) -> Turn:
        msgs = messages(history)
        text = self.resolve_ordinal(question, msgs)
        users = [t["content"] for t in msgs if t["role"] == "user"]
        ask = self.ask_of(text)
        situation = "，".join(c for c in _CLAUSES.split(text) if c.strip() and c.strip() not in ask)
        situation = situation if ask != text else ""
        if not self._leans_back(text, msgs, users):
            return Turn(text=text, ask=ask, situation=situation)
        return Turn(
            text=text,
            followup=True,
            ask=ask,
            situation=situation,
            query=f"{text} {' '.join(users[-2:])}",
            previous=users[-1],
            prior=self._prior(msgs)[:3],
            cited=[c for t in msgs if t["role"] == "assistant" for c in cited_ids(t["content"])],
            earlier=self._earlier(users),
        )

    def ask_of(self, text: str) -> str:
        return ask_clause(text, self.names_something)

    def names_something(self, clause: str) -> bool:
        """Whether a clause holds a word of the plan that names a subject."""
        index = self.index
        tokens = index.tokenizer.tokens(index.expand(clause)[0])
        return any(len(t) >= 2 and t in index.vocab for t in index.content_tokens(tokens))

    def resolve_ordinal(self, question: str, msgs: list[dict]) -> str:
        """A bare "第11项" after a turn about another list's entry means that list's entry:
        "分工5 谁牵头" → "第11项呢" asks about 分工-11, not 清单-11."""
        if not msgs:
            return question
        m = _BARE_ORDINAL.search(arabic_ids(question))
        if m is None or re.search(r"清单|分工|专栏|附件", question):
            return question
        records = self.index.records
        for t in reversed(msgs):
            ids = [c for c in cited_ids(t["content"]) if c in records]
            ids = ids or self.index.lookup_cached(t["content"])
            kinds = {c.split("-")[0] for c in ids if c.split("-")[0] in {"清单", "分工", "专栏"}}
            if len(kinds) == 1:
                kind = kinds.pop()
                if kind == "清单" or f"{kind}-{m.group(1)}" not in records:
                    return question
                return (
                    f"{kind}{question}"
                    if question.startswith("第")
                    else question.replace(m.group(0), f"{kind}{m.group(0)}", 1)
                )
            if kinds:
                return question
        return question

    # -- internals

    def _leans_back(self, text: str, msgs: list[dict], users: list[str]) -> bool:
        """A turn leans on the conversation when there is one, it names no record of its own,
        and it points back ("那…呢", "这个"), or is short, or names nothing new (below), and is
        no question of its own."""
        if not users or self.index.lookup_cached(text):
            return False
        short = len(re.sub(r"[^\w]", "", text)) <= 8
        marked = bool(_FOLLOWUP.search(self._without_named_topics(text)))
        if not (marked or short):
            if _OWN_TOPIC.search(text) or self._without_named_topics(text) != text:
                return False  # "上了普高呢，…", "教育这块…": it says itself what it is about
            return self._names_nothing_new(text, msgs, users) and not self.stands_alone(text)
        return marked or not self.stands_alone(text)

    def subject(self, msgs: list[dict], users: list[str]) -> str | None:
        """The record the conversation is on: what the latest answer cites, else the record the
        user's last turn named, else the record a plain-text answer repeats, else the best BM25
        match of the user's last turn."""
        index = self.index
        for t in reversed(msgs):
            if t["role"] == "assistant":
                cited = [c for c in cited_ids(t["content"]) if c in index.records]
                if cited:
                    return cited[0]
                break
        named = index.lookup_cached(users[-1])
        if named:
            return named[0]
        prior = self._prior(msgs)
        if prior:
            return prior[0]
        ranked = index.bm25_rank(index.tokenizer.tokens(index.expand(users[-1])[0]), 1)
        return index.chunks[ranked[0][0]].metadata["citation_id"] if ranked else None

    def _names_nothing_new(self, text: str, msgs: list[dict], users: list[str]) -> bool:
        """A longer turn with no word pointing back still asks about the record the conversation
        is on when it uses words of the plan and that record holds every one of them that names
        something ("资助面有多大，多少学生能领" after 普通高中国家助学金). A turn naming something
        the record lacks ("高龄津贴归哪个部门管" after 公租房) or no word of the plan at all is its
        own question. Known gap: a request about nothing in the plan whose only plan word is a
        generic one the record has too ("…给单位的请假条") leans back; the answerability model
        then decides on it."""
        subject = self.subject(msgs, users)
        if subject is None or subject not in self.index.records:
            return False
        index = self.index
        tokens = [t for t in index.tokenizer.tokens(index.expand(text)[0]) if t in index.vocab]
        words = {t for t in index.content_tokens(tokens) if len(t) >= 2}
        have, _ = index.record_profile(subject)
        return any(len(t) >= 2 for t in tokens) and words <= have

    def _prior(self, msgs: list[dict]) -> list[str]:
        """Earlier answers' sources, the latest answer's first ("这个" is what was just said):
        the IDs it cites that exist, or the record a plain-text answer ("小学班额不高于45人。")
        repeats."""
        prior: list[str] = []
        for t in reversed(msgs):
            if t["role"] == "assistant":
                ids = [c for c in cited_ids(t["content"]) if c in self.index.records]
                prior += [c for c in ids or self.index.quoted(t["content"]) if c not in prior]
        return prior

    def _earlier(self, users: list[str]) -> list[str]:
        """Records the user named in the two turns before, the latest turn first."""
        out: list[str] = []
        for text in reversed(users[-2:]):
            out += [c for c in self.index.lookup_cached(text) if c not in out]
        return out

    def _without_named_topics(self, question: str) -> str:
        """The question without "X这块" / "X这方面" where X names a subject of the plan: "孩子上学
        这块政府都管啥" says what it is about; "这块谁管" points back."""

        def drop(m: re.Match) -> str:
            return m.group(1) if self.names_something(m.group(1)) else m.group(0)

        return _NAMED_TOPIC.sub(drop, question)
