"""Query text: input hygiene, normalisation, jieba tokens for BM25, alias expansion."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

# control characters and every invisible one a model still reads: zero-width and bidi marks, word
# joiners, soft hyphens, variation selectors, Hangul fillers, and the tag characters that spell
# hidden ASCII (U+E0000 block)
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\u034f\u061c\u115f\u1160\u17b4\u17b5"
    r"\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
    r"\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_TAG = re.compile(r"<[^>]{0,200}>")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "有",
        "没有",
        "能",
        "能不能",
        "可以",
        "可不可以",
        "会",
        "要",
        "想",
        "请问",
        "请",
        "问",
        "一下",
        "我",
        "我们",
        "你",
        "你们",
        "他",
        "她",
        "它",
        "他们",
        "这",
        "那",
        "这个",
        "那个",
        "哪个",
        "哪些",
        "哪里",
        "什么",
        "多少",
        "几",
        "怎么",
        "怎样",
        "如何",
        "为什么",
        "么",
        "就",
        "都",
        "也",
        "还",
        "又",
        "对",
        "给",
        "让",
        "被",
        "把",
        "从",
        "到",
        "里",
        "中",
        "上",
        "下",
        "个",
        "些",
        "每",
        "请教",
        "谢谢",
        "您好",
        "你好",
        "有没有",
        "是不是",
        "要不要",
        "管不管",
        "行不行",
        "能否",
        "是否",
        "怎么办",
        "怎么样",
        "一些",
        "东西",
        "事情",
        "问题",
        "情况",
        "了解",
        "知道",
        "告诉",
        "一个",
        "现在",
        "应该",
        "需要",
        "得到",
        "享受",
        "具体",
        "不管",
    ]
)


class InputError(ValueError):
    """A question that cannot be asked as it is; the message is for the user (Chinese)."""


@dataclass
class CleanQuery:
    text: str
    notices: list[str] = field(default_factory=list)


def sanitize(raw: object, max_chars: int) -> CleanQuery:
    """Make user input safe to process: text only, no control characters, bounded length."""
    if raw is None:
        raise InputError("请输入您的问题。")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        raise InputError("问题需要是一段文字。")
    notices = []
    text = clean_text(raw[: max_chars * 4])  # cut first: nothing below runs on unbounded text
    text = re.sub(r"[ \t\u3000]+", " ", text).strip()
    if not text:
        raise InputError("请输入您的问题，例如：散居孤儿每个月生活费多少？")
    if len(text) > max_chars:
        text = text[:max_chars]
        notices.append(f"您的问题较长，只按前{max_chars}个字处理。")
    return CleanQuery(text=text, notices=notices)


def clean_text(raw: str) -> str:
    """No control characters, no lone surrogates (they break every encoder downstream), no
    replacement characters."""
    text = _CONTROL.sub("", raw.replace("\r", "\n")).replace("\ufffd", "")
    return _SURROGATE.sub("", text)


def has_content(text: str) -> bool:
    """True when the text holds a CJK character, a letter or a digit (not only symbols/emoji)."""
    stripped = _TAG.sub("", text)
    return any(ch.isalnum() for ch in stripped)


def fold(text: str) -> str:
    """Full-width ASCII to half-width, Latin lower-cased: the form every matcher compares."""
    return unicodedata.normalize("NFKC", text).lower()


def fold_for_facts(text: str) -> str:
    """The comparison EVAL_FORMAT.md defines: no whitespace, full-width ASCII folded."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            ch = chr(code - 0xFEE0)
        elif ch == "\u3000":
            ch = " "
        out.append(ch)
    return re.sub(r"\s+", "", "".join(out))


# ---------------------------------------------------------------- aliases


@cache
def load_aliases(corpus_dir: Path) -> dict[str, tuple[str, ...]]:
    path = corpus_dir / "aliases.toml"
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8")).get("aliases", {})
    # longest keys first, once: expansion walks them in this order on every question
    return {fold(k): tuple(v) for k, v in sorted(data.items(), key=lambda kv: -len(kv[0]))}


def expand_aliases(
    text: str, aliases: dict[str, tuple[str, ...]], tokens: list[str] | None = None
) -> tuple[str, list[str]]:
    """Append the official terms of every alias the text contains; returns (text, terms added).
    With the text's tokens, a key counts only as a whole word: 领养 is not in 领养老金."""
    folded = fold(text)
    words = set(tokens) if tokens is not None else None
    added: list[str] = []
    for key in aliases:  # load_aliases orders them longest first
        if key in folded and (words is None or key in words):
            for term in aliases[key]:
                if term not in folded and term not in added:
                    added.append(term)
    return (f"{text} {' '.join(added)}" if added else text), added


# ---------------------------------------------------------------- tokens


class Tokenizer:
    """jieba in search mode with the plan's own vocabulary, stopwords and punctuation dropped.

    With token tables kept (keep_token_tables: the serving start-up), the tokens of every text
    tokenized while the server starts (the passages BM25 indexes, the records' names and
    clauses) are read from a table saved by an earlier start for the same vocabulary and code,
    instead of being cut again."""

    def __init__(self, vocabulary: list[str]):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        added = []
        for word in sorted(set(vocabulary)):
            word = fold(word).strip()
            if 2 <= len(word) <= 30 and not re.search(r"\s", word):
                self._jieba.add_word(word, freq=20000)
                added.append(word)
        self._saved: dict[str, tuple[str, ...]] = {}
        self._new: dict[str, tuple[str, ...]] | None = None  # noted for the table, or None
        if _tables.directory is not None:
            self.signature = _signature(added, jieba.__version__)
            self._saved = _read_table(self.signature)
            self._new = {}
            _tables.noting.append(self)

    def tokens(self, text: str) -> list[str]:
        saved = self._saved.get(text)
        return list(saved if saved is not None else self._tokens(text))

    def segment(self, text: str) -> list[str]:
        """Plain segmentation (not search mode): each character in exactly one word."""
        with self._lock:
            return self._jieba.lcut(text)

    def frequency(self, word: str) -> int:
        return int(self._jieba.FREQ.get(word) or 0)

    @lru_cache(maxsize=16384)  # noqa: B019 - one tokenizer per process; corpus passages repeat
    def _tokens(self, text: str) -> tuple[str, ...]:
        with self._lock:  # jieba's lazy initialisation is not thread-safe
            words = self._jieba.lcut_for_search(fold(text))
        out = []
        for w in words:
            w = w.strip()
            if not w or w in STOPWORDS or not any(ch.isalnum() for ch in w):
                continue
            out.append(w)
        out = tuple(out)
        if self._new is not None and len(self._new) < MAX_TABLE:
            self._new[text] = out
        return out


# ---------------------------------------------------------------- token tables

MAX_TABLE = 200_000  # texts a table holds at most


class _Tables:
    directory: Path | None = None
    noting: list[Tokenizer] = []  # noqa: RUF012 - one registry per process


_tables = _Tables()


def keep_token_tables(directory: Path | None) -> None:
    """Tokenizers built from now on read their saved token table from `directory` and note what
    they tokenize, until save_token_tables() (None: no tables). For the serving start-up: the
    tokens of ~600 texts (0.2-0.3 s of CPU at every start) are read instead of cut."""
    _tables.directory = Path(directory) if directory is not None else None
    _tables.noting = []


def save_token_tables() -> None:
    """Write the table of every noting tokenizer that tokenized something new; then no
    tokenizer notes or reads tables any more (a later one, after a library change, cuts as
    before). Written to a temporary file and renamed: a process starting meanwhile never reads
    half a table."""
    import pickle
    import tempfile

    noting, _tables.noting = _tables.noting, []
    directory, _tables.directory = _tables.directory, None
    for tok in noting:
        new, tok._new = tok._new, None
        if not new or directory is None:
            continue
        table = {**tok._saved, **new}
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tokens-")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(table, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, _table_path(directory, tok.signature))
        except OSError as e:  # a read-only cache: the next start cuts them again
            logger.info("token table not saved: %s", e)
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)


def _signature(words: list[str], version: str) -> str:
    """The table's key: the words added to jieba, jieba's version and this module's code (the
    folding, the stopwords, the search-mode cut): any change, another table."""
    import hashlib

    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(version.encode())
    h.update("\0".join(words).encode())
    return h.hexdigest()[:16]


def _table_path(directory: Path, signature: str) -> Path:
    return directory / f"tokens-{signature}.pkl"


def _read_table(signature: str) -> dict[str, tuple[str, ...]]:
    """The saved table, or {} when there is none or it cannot be read (it is our own pickle,
    in our own cache folder, as the parsed copies of the library are)."""
    import pickle

    try:
        with open(_table_path(_tables.directory, signature), "rb") as fh:
            table = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def vocabulary_from_records(records) -> list[str]:
    """Names a hotline worker would type whole: items, domains, units, indicators, box rows."""
    from .documents import DOMAINS, Box, ServiceItem, Task

    words: list[str] = list(DOMAINS)
    for r in records:
        if isinstance(r, ServiceItem):
            words.append(r.name)
            words += r.lead_units
        elif isinstance(r, Task):
            words += [u for u in re.split(r"[、，,]", r.units.split("牵头")[0]) if u]
        elif isinstance(r, Box):
            words += [row.name for row in r.rows]
            words += [re.sub(r"（[^）]*）$", "", i.name) for i in r.indicators]
    return [w for w in words if w]


def pieces(text: str) -> list[str]:
    """The growing prefixes of an answer, sentence by sentence, as a page streams them."""
    out, shown = [], ""
    for p in re.split(r"(?<=[。；！？\n])", text):
        if p:
            shown += p
            out.append(shown)
    return out or [text]


@cache
def _char_reading(ch: str) -> str:
    """A character's usual toneless reading. pypinyin loads its phrase dictionary (~40 MB) on
    import unless told not to; a single character's reading comes from its character table."""
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
    os.environ.setdefault("PYPINYIN_NO_DICT_COPY", "1")
    from pypinyin import Style, pinyin

    return pinyin(ch, style=Style.NORMAL)[0][0]


class Homophones:
    """Typos of the plan's own terms that sound the same (底保 → 低保, 残急 → 残疾, 公祖房 →
    公租房): a word of the question that the plan does not use, which differs from exactly one
    plan term in one character read the same way (its usual toneless reading), stands for
    that term. Learned from the corpus vocabulary, not listed.

    Only single characters' readings are needed (the other characters of the word are the same
    ones), so pypinyin runs without its phrase dictionary: ~40 MB less in every server, which
    holds the dictionary for nothing but this."""

    def __init__(self, vocabulary: set[str], tokenizer: Tokenizer | None = None):
        self.vocabulary = vocabulary
        self.tokenizer = tokenizer
        # the term with one character left out -> (the term, the left-out character)
        self.by_gap: dict[tuple[str, int], list[tuple[str, str]]] = {}
        for w in sorted(vocabulary):
            if 2 <= len(w) <= 4 and all("\u4e00" <= c <= "\u9fff" for c in w):
                for k, ch in enumerate(w):
                    self.by_gap.setdefault((w[:k] + "_" + w[k + 1 :], k), []).append((w, ch))

    def corrections(self, text: str) -> list[str]:
        """Plan terms the text seems to mean but misspells."""
        out: list[str] = []
        cjk = re.findall(r"[\u4e00-\u9fff]+", text)
        for run in cjk:
            for n in (4, 3, 2):
                for i in range(len(run) - n + 1):
                    window = run[i : i + n]
                    if window in self.vocabulary or any(window in o for o in out):
                        continue
                    near: dict[str, int] = {}
                    for k, ch in enumerate(window):
                        for w, right in self.by_gap.get(
                            (window[:k] + "_" + window[k + 1 :], k), ()
                        ):
                            if right != ch and _char_reading(right) == _char_reading(ch):
                                near[w] = k
                    if len(near) != 1:
                        continue
                    ((term, k),) = near.items()
                    if term not in text and not self._in_common_word(run, i + k):
                        out.append(term)
        # one term per misspelling: 低保户 already says 低保
        return [w for w in out if not any(w != o and w in o for o in out)]

    def _in_common_word(self, run: str, pos: int) -> bool:
        """Whether the character at pos belongs to a common word of its own (看 in 上门看看 is
        no typo of 门槛's 槛), by the segmenter's word frequencies."""
        if self.tokenizer is None:
            return False
        start = 0
        for word in self.tokenizer.segment(run):
            if start <= pos < start + len(word):
                return len(word) >= 2 and self.tokenizer.frequency(word) >= 1000
            start += len(word)
        return False
