"""What the answerability model sees of one question and its evidence: how well the best record
matches (lexical coverage, cosine similarity, margin over the next), whether the question names
things the plan does not hold (numbers, IDs, words), the kind of ask (a few families of general
trap vocabulary), and, when vectors are on, the question's e5 embedding itself."""

from __future__ import annotations

import math
import re

import numpy as np

from ..intents import Intent
from . import detail, numbers

# General vocabulary of questions a plan cannot answer. The model weighs each family from the
# training data; none of them declines anything on its own.
CUES: dict[str, re.Pattern] = {
    "actual": re.compile(
        r"今年|去年|前年|现在|目前|如今|眼下|实际|截至|截止到|完成了|完成得|已经|达到了吗|达标了吗|最新|"
        r"现行|当前|这几年|近几年|统计|20[2-9]\d"
    ),
    "level": re.compile(r"国家|全国|中央|国务院|省里|全省|山东省|省级|省政府|省定|外地|别的城市"),
    "procedure": re.compile(
        r"怎么申请|如何申请|怎么办理|如何办理|咋申请|咋办理|怎么领|去哪.{0,2}(办|领|申请)|材料|流程|"
        r"手续|窗口|几天|多久能|多长时间能|审批|网上|APP|app|预约|需要带|证明"
    ),
    "contact": re.compile(r"电话|地址|在哪儿|在哪里|在什么地方|几点|网址|公众号|办公|联系"),
    "opinion": re.compile(r"你觉得|你认为|好不好|合理吗|合不合理|怎么看|评价|值不值|靠谱"),
    "personal": re.compile(
        # a decision on the asker's own case, in any voice (我/俺/咱): "俺能排上公租房不",
        # "你给算算能报多少", "能评上困境儿童不"
        r"[我俺咱](?:家|们)?(?:能领|能不能|能排|能评|能批|能报|能拿|符合|够不够|该)"
        r"|[我俺咱]家.{0,6}(?:能|可以)领|算不算|具体能领|能评上|能排上|能批下"
        r"|给[我俺咱]算算|帮[我俺咱](?:看看|算算)|直接告诉[我俺]"
    ),
    "fake": re.compile(
        r"系统通知|系统消息|规则已|管理员|开发者|【|忽略|你现在是|扮演|假装|测试模式"
    ),
    "premise": re.compile(r"对吧|是吧|是不是|对不对|没错吧|是真的吗|听说|据说|只要回答"),
}
_ID_REF = re.compile(
    # "分工方案第32项", "清单里第105项": a few words may stand between the list and its number
    r"(清单|分工|专栏)(?:[^，。？?！!\d清单分工专栏]{0,4}?第|\s*[-－—]?\s*第?)\s*(\d{1,4})"
    r"|第(\d{1,4})项|第([5-9]|五|六|七|八|九|十)部分"
    # the citation form of a part the plan does not have: 章节-五 (its parts are 一 to 四)
    r"|章节\s*[-－—]?\s*([五六七八九十]|[5-9])"
)
_LONG_NUMBER = re.compile(r"\d[\d\s-]{6,}[\dXx]")
_ID_LIMIT = {"清单": 100, "分工": 28, "专栏": 12}
KINDS = ("item", "section", "box", "task")
ASKS = ("amount", "eligibility", "funding", "department", "list", "services", "procedure", "task",
        "indicator", "deadline", "document")  # fmt: skip
_QUANTITY_ASK = re.compile(
    r"多少|几[个项年岁次档倍成天]|比例|百分|标准是|金额|上限|下限|最高|最低|不低于"
)


def asks_quantity(question: str) -> bool:
    return bool(_QUANTITY_ASK.search(question))


_KIND_CUES = ("procedure", "contact", "opinion", "personal", "actual", "level", "fake")


def ask_kind(question: str) -> int:
    """What kind of thing a question asks, as bits: an amount or not, and each trap cue it
    uses (procedure, contact, opinion, a personal decision, actual figures, another level,
    fake notices). Neighbours of the same kind say more about it than the rest: "火化费减免的
    手续咋办" is a procedure question; "火化有没有减免" is not."""
    kind = int(asks_quantity(question))
    for bit, name in enumerate(_KIND_CUES, 1):
        if CUES[name].search(question):
            kind |= 1 << bit
    return kind


LEXICAL_NAMES = [
    "ev1", "ev2", "margin", "lex1", "dense1", "dense_margin", "lookup", "followup", "unknown",
    "log_len", "has_number", "number_missing", "bad_id", "amount_no_figure",
    "record_cover", "asks_quantity", "clause_figure", "detail_asked", "detail_held",
    *(f"ask_{a}" for a in ASKS),
    *(f"kind_{k}" for k in KINDS), *(f"cue_{c}" for c in CUES),
    "place", "later", "bias",
]  # fmt: skip


def _record_text(index, cid: str) -> str:
    rec = index.records.get(cid)
    return rec.text if rec is not None else ""


def missing_ref(question: str) -> str | None:
    """The reference to an ID the plan does not have (清单-105, 专栏13, 第五部分), if any."""
    text = numbers.arabic_ids(question)
    for m in _ID_REF.finditer(text):
        if m.group(4) or m.group(5):
            return m.group(0)
        kind, num = m.group(1), int(m.group(2) or m.group(3))
        if num > _ID_LIMIT.get(kind or "清单", 100) or num == 0:
            return m.group(0)
    return None


def bad_id(question: str) -> bool:
    return missing_ref(question) is not None


def names_id(question: str) -> bool:
    """The question names a record by its number (清单第56项, 专栏7, 分工-3): a lookup."""
    return _ID_REF.search(numbers.arabic_ids(question)) is not None and not bad_id(question)


def unknown_share(index, question: str) -> float:
    """Share of the question's words (two characters or more) that the plan never uses."""
    toks = [t for t in index.tokenizer.tokens(question) if len(t) >= 2 and not t.isdigit()]
    if not toks:
        return 0.0
    return sum(t not in index.vocab for t in toks) / len(toks)


def cue(pattern: re.Pattern, question: str, record_text: str) -> bool:
    """A cue word the question uses that is not the plan's own wording in the best record,
    read with the two characters after it (国家 in 国家助学金 names the grant the record names;
    国家层面 and 国家标准是多少 ask another level, though the record says 国家 elsewhere)."""
    return any(
        question[m.start() : m.end() + 2] not in record_text for m in pattern.finditer(question)
    )


def record_cover(index, question: str, cid: str) -> tuple[float, str]:
    """Share of the question's plan words (two characters or more) that the record's own text
    holds, and the record's clause holding most of them."""
    words = {t for t in index.tokenizer.tokens(question) if len(t) >= 2 and t in index.vocab}
    if not words or cid not in index.records:
        return 0.0, ""
    have, clauses = index.record_profile(cid)
    idf = index.idf
    cover = sum(idf.get(t, 1.0) for t in words & have) / sum(idf.get(t, 1.0) for t in words)
    best, best_score = "", -1.0
    for clause, tokens in clauses:
        score = sum(idf.get(t, 1.0) for t in words & tokens)
        if score > best_score:
            best, best_score = clause, score
    return cover, best


def lexical_features(index, question: str, result, intent: Intent) -> np.ndarray:
    hits = result.hits
    h1 = hits[0] if hits else None
    h2 = hits[1] if len(hits) > 1 else None
    ev1 = h1.evidence if h1 else 0.0
    ev2 = h2.evidence if h2 else 0.0
    top_text = _record_text(index, h1.id) if h1 else ""
    # a phone, ID or bank-card number the person gives about themselves is no claim to check
    asked = numbers.values(_LONG_NUMBER.sub(" ", question))
    years = {float(y) for y in range(2010, 2031)}
    asked -= years  # a year names a period, handled by the period rules
    missing = bool(asked - numbers.values(top_text)) if asked else False
    amount_no_figure = "amount" in intent.kinds and bool(h1) and not re.search(r"\d", top_text)
    cover, clause = record_cover(index, question, h1.id) if h1 else (0.0, "")
    quantity = asks_quantity(question)
    kind = detail.asked(question)
    row = [
        ev1,
        ev2,
        ev1 - ev2,
        h1.lexical if h1 else 0.0,
        h1.dense if h1 else 0.0,
        (h1.dense - h2.dense) if (h1 and h2) else 0.0,
        float(bool(h1) and h1.via == "lookup"),
        float(result.followup),
        unknown_share(index, question),
        math.log1p(len(question)) / 5,
        float(bool(asked)),
        float(missing),
        float(bad_id(question)),
        float(amount_no_figure),
        cover,
        float(quantity),
        float(quantity and bool(re.search(r"\d", clause))),
        float(kind is not None),  # the kind of figure asked (期限, 次数, 比例, 金额)…
        float(kind is not None and detail.holds(top_text, kind)),  # …and the record states one
        *(float(a in intent.kinds) for a in ASKS),
        *(float(bool(h1) and h1.kind == k) for k in KINDS),
        *(float(cue(p, question, top_text)) for p in CUES.values()),
        float(bool(intent.places)),
        float(bool(intent.later_plans or intent.out_of_period)),
        1.0,
    ]
    return np.asarray(row, dtype=np.float32)


NEIGHBOUR_NAMES = [
    "knn_answerable", "knn_top_sim", "knn_top_vote", "knn_any_vote", "knn_unrelated",
    "knn_answerable_same_ask",
]  # fmt: skip


def neighbour_features(result) -> np.ndarray:
    """What the nearest training questions say: how often such questions were answerable, how
    near the nearest is, and how much of their vote the chosen (or any retrieved) record has."""
    v = result.votes
    top = result.hits[0].id if result.hits else None
    return np.asarray(
        [
            v.answerable,
            v.top_sim,
            v.records.get(top, 0.0) if top else 0.0,
            sum(v.records.get(h.id, 0.0) for h in result.hits),
            v.unrelated,
            v.answerable_same_ask,
        ],
        dtype=np.float32,
    )


def features(index, question: str, result, intent: Intent, with_vector: bool) -> np.ndarray:
    lex = lexical_features(index, question, result, intent)
    if not with_vector:
        return lex
    vec = np.asarray(result.vector, dtype=np.float32)
    return np.concatenate([lex, neighbour_features(result), vec])
