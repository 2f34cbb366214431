"""Answers: the Answer model and the extractive composer (the default; no LLM needed).

The composer quotes the plan, never paraphrases it: it picks the record the retriever ranked
first, the field the question's intent asks for (服务指导标准 for an amount, 服务对象 for who,
支出责任 for who pays, 牵头负责单位 for which unit), and within it the clauses the user's own
words point at. Every claim carries its readable citation; weak evidence is declined.
"""

from __future__ import annotations

import re
import threading
from typing import Literal

from pydantic import BaseModel, Field

from . import prompts
from .answer import detail, premise
from .answer.features import missing_ref
from .documents import Box, PlanMeta, Section, ServiceItem, Task, indicator_line
from .intents import Intent, detect
from .retrieval import Hit, PlanIndex, SearchResult

FIELD_FOR_INTENT = {
    "amount": ("standard", "服务指导标准"),
    "eligibility": ("target", "服务对象"),
    "funding": ("funding", "支出责任"),
    "department": ("lead", "牵头负责单位"),
}
FIELD_FOR_ATTRIBUTE = {
    "服务对象": ("target", "服务对象"),
    "服务指导标准": ("standard", "服务指导标准"),
    "支出责任": ("funding", "支出责任"),
    "牵头负责单位": ("lead", "牵头负责单位"),
}
_MONEY_QUESTION = re.compile(
    r"多少钱|多少元|几元|金额|具体.{0,4}多少|每[月年人].{0,6}多少|标准是多少|补贴多少|发多少"
)
_HAS_FIGURE = re.compile(r"\d")
# a question asking for several items, a group of them, or the same of each of several
_SEVERAL = re.compile(
    r"哪些|哪几|有什么|有啥|什么(?:服务|帮助|补贴|政策|待遇|项目)|啥(?:服务|帮助|补贴|政策|待遇|项目)"
    r"|能享受|都有"
)
_DISTRIBUTIVE = re.compile(
    r"分别|各自|各(?:是|有|为|项|由|给|归|管|负责|多少|要|需|属|找|出|领|享受|什么|啥)"
    r"|[两俩二三仨四五]\s*[项样种类](?!人)|这[俩仨]|两者|二者"
)
# what lists items inside one clause: 、 and the conjunctions (a comma separates clauses)
_ENUMERATION = re.compile(r"[、和与及跟]|以及")
_CLAUSES = re.compile(r"[，,。；;！!？?\s]+")
_NAMING_IDF = 4.0
_TERSE, _TERSE_PART = 30, 10  # a hotline lookup: "孤儿 困境儿童 留守儿童 支出责任"
# asking for the points of a part as a whole, and a numbered point's head ("1.注重保障基本。")
_ASKS_POINTS = re.compile(r"哪几|哪些|几个方面|几条|几点|包括什么|包括哪|有什么|有哪|都有啥|是什么")
# a follow-up asking who carries out the work of the conversation's domain ("这个领域的任务
# 谁牵头", "这一块儿的活儿哪个局挑头"): 附件2 gives one task per domain
_ASKS_DOMAIN_TASK = re.compile(
    r"领域.{0,12}(?:牵头|挑头|负责|落实)"
    r"|(?:这块|这一块|那块|这方面|这个方面).{0,12}(?:任务|活儿?).{0,8}(?:牵头|挑头|负责|落实)"
)
# asking what a box lists as a whole ("都有啥", "包括哪些", "列了几项")
_ASKS_LIST = re.compile(r"哪些|哪几|包括|都有(?:啥|什么|哪)|有什么|有啥|列表|列了|几项|多少项")
_POINT = re.compile(r"\s*(\d{1,2})[.．、]\s*([^。；：:]{2,24})[。；：:]")
_QUOTED = re.compile(r"[“\"「『‘][^”\"」』’]*[”\"」』’]")
_GENERIC_IDF = 2.5  # words in more than ~8 % of the chunks (服务, 政府, 免费, 提供) name nothing
# how Chinese words for kinds of people end (老年人, 劳动者, 人员, 儿童, 学生, 孕产妇, 农户, 职工)
_PERSON_ENDINGS = set("人者员童生妇户儿工民属")
_CLAUSE_SPLIT = re.compile(r"(?<=[。；！？\n])|(?<=，)(?=[^，。；]{6,})")


class Source(BaseModel):
    id: str
    title: str
    readable: str
    kind: str
    text: str = Field(description="the whole record, for a source card")
    snippet: str = Field("", description="the passage that matched best")
    score: float = 0.0
    evidence: float = 0.0
    via: str = ""


class Answer(BaseModel):
    question: str
    text: str = Field(description="Markdown, Chinese")
    citations: list[str] = Field(default_factory=list, description="IDs in order of use")
    sources: list[Source] = Field(default_factory=list)
    answered: bool
    mode: Literal["extractive", "llm"] = "extractive"
    reason: str | None = Field(None, description="why the assistant declined, when it did")
    notices: list[str] = Field(default_factory=list)
    degraded: bool = False
    timings: dict[str, float] = Field(default_factory=dict)


def cite(readable: str, field: str | None = None) -> str:
    return f"〔{readable}·{field}〕" if field else f"〔{readable}〕"


class Composition(BaseModel):
    text: str
    citations: list[str]
    answered: bool
    reason: str | None = None
    quoted_standard: bool = False


class Composer:
    def __init__(
        self,
        index: PlanIndex,
        meta: PlanMeta,
        min_evidence: float,
        max_items: int,
        sure_evidence: float = 0.85,
        clear_evidence: float = 0.7,
    ):
        self.index = index
        self.meta = meta
        self.min_evidence = min_evidence
        self.sure_evidence = sure_evidence
        self.clear_evidence = clear_evidence
        self.max_items = max_items
        # per-question state: answers run concurrently, so it lives per thread, never shared
        self._tls = threading.local()

    @property
    def _context(self) -> list[str]:
        return getattr(self._tls, "context", [])

    @_context.setter
    def _context(self, value: list[str]) -> None:
        self._tls.context = value

    @property
    def _inherited(self) -> bool:
        return getattr(self._tls, "inherited", False)

    @_inherited.setter
    def _inherited(self, value: bool) -> None:
        self._tls.inherited = value

    # ------------------------------------------------------------ entry

    def compose(self, question: str, result: SearchResult, history: list[dict]) -> Composition:
        """The answer from the evidence; a claim the question asks to confirm that the quoted
        records do not hold turns it into a correction (check_premise)."""
        self._context, self._inherited = self._carry_over(result, history)
        comp = self._compose(question, result, history)
        comp = self._with_asked_detail(question, result, history, comp)
        comp = self.check_premise(question, comp)
        comp = self.check_detail(question, comp)
        self._cover_citations(result, comp.citations)
        return comp

    def _cover_citations(self, result: SearchResult, cited: list[str]) -> None:
        """Every cited record is among the answer's sources, to open: a group's items or named
        items the ranking did not return are added after the ranked ones."""
        have = {h.id for h in result.hits}
        for cid in cited:
            if cid not in have and cid in self.index.records:
                result.hits.append(self.index.hit_for(cid, via="answer"))
                have.add(cid)

    def _compose(
        self, question: str, result: SearchResult, history: list[dict], source: Hit | None = None
    ) -> Composition:
        intent = result.intent
        hits = result.hits
        ref = missing_ref(question)
        if ref:  # an ID the plan does not have: said plainly, never a near record instead
            return self._decline("no_such_id", prompts.NO_SUCH_ID.format(ref=ref), [])
        if intent.places:
            return self._decline(
                "other_place", prompts.OTHER_PLACE.format(place=intent.places[0]), hits
            )
        if intent.later_plans:
            return self._decline(
                "later_year", prompts.LATER_PLAN.format(plan=intent.later_plans[0]), hits
            )
        if intent.out_of_period:
            return self._decline(
                "later_year", prompts.LATER_YEAR.format(year=intent.out_of_period[0]), hits
            )
        focus = self.index.tokenizer.tokens(question)
        expanded = self.index.tokenizer.tokens(self.index.expand(question)[0])
        if not hits:
            return self._decline("not_in_plan", prompts.NOT_IN_PLAN, hits, expanded)
        top = source or self._answering_source(hits, intent)
        rec = self.index.records[top.id]
        named = self.index.lookup_cached(question)  # an ID or a name the user typed
        if "task" in intent.kinds and intent.units and top.kind == "task" and not named:
            return self._unit_tasks(intent, hits)
        if "list" in intent.kinds and intent.units and top.kind == "item":
            return self._unit_items(intent, hits)
        if isinstance(rec, Box) and rec.directory:
            return self._directory(rec, intent, top)
        if "document" in intent.kinds and top.id == self.index.front_matter:
            return self._document(rec, focus, top)
        if result.followup and _ASKS_DOMAIN_TASK.search(question):
            task = self._task_of_domain()
            if task is not None:
                return self._task(task)
        several = self._named_items(question, hits)
        if len(several) > 1:
            # "低保和特困供养分别由哪个单位牵头？": each named item with the asked part, a line each
            return self._items(several, intent, focus, question)
        if "services" in intent.kinds and not isinstance(rec, ServiceItem):
            # "有哪些资助" answered by the items that provide them, not by a passage about them
            items = [h for h in hits[:5] if h.kind == "item"]
            best = max(items, key=lambda h: h.evidence, default=None)
            many = (
                self._several_items(intent, items, question, top=best)
                if best is not None and best.evidence >= self.clear_evidence
                else []
            )
            if len(many) > 1:
                return self._items(many, intent, focus, question)
        if isinstance(rec, ServiceItem):
            many = self._several_items(intent, hits, question)
            if len(many) > 1:
                return self._items(many, intent, focus, question)
            return self._item(rec, intent, focus, question)
        if isinstance(rec, Task):
            return self._task(rec)
        if isinstance(rec, Box) and rec.indicators:
            return self._indicator(rec, top, focus)
        if isinstance(rec, Box) and rec.rows and _ASKS_LIST.search(question):
            listed = self._box_rows(rec, question)
            if listed is not None:
                return listed
        if isinstance(rec, Section) and rec.title in question and _ASKS_POINTS.search(question):
            # the part named as a whole ("基本原则有哪几条"), not a question about one of its points
            points = self._points(rec)
            if points is not None:
                return points
        return self._passage(rec, top, expanded, intent)  # the plan's own words count

    def _carry_over(self, result: SearchResult, history: list[dict]) -> tuple[list[str], bool]:
        """A follow-up's earlier question: its words (the context), and its kinds of ask when the
        follow-up names none of its own ("那农村的呢" asks what the question before asked)."""
        if not result.followup:
            return [], False
        previous = next((t["content"] for t in reversed(history) if t["role"] == "user"), "")
        if result.intent.kinds - {"list"}:
            return self.index.tokenizer.tokens(previous), False
        result.intent.kinds |= detect(previous, self.index.units).kinds
        return self.index.tokenizer.tokens(previous), True

    def _with_asked_detail(
        self, question: str, result: SearchResult, history: list[dict], comp: Composition
    ) -> Composition:
        """When the first source lacks the kind of figure asked for (a period, an amount, a
        rate) and a source ranked just after it states one and as many of the question's words,
        that source answers ("第二期特殊教育提升计划是哪几年": the box names the plan, the
        section gives its years)."""
        kind = detail.asked(question)
        hits = result.hits
        if not kind or not comp.answered or not comp.citations or len(hits) < 2:
            return comp
        if detail.holds(self._cited_text(comp), kind):
            return comp
        words = self._words(question)
        top_overlap = self._best_clause(self.index.records[hits[0].id].text, words)
        for h in hits[1:3]:
            rec = self.index.records.get(h.id)
            if (
                rec is None
                or h.evidence < hits[0].evidence - 0.15
                or not detail.holds(rec.text, kind)
                or self._best_clause(rec.text, words) < top_overlap
            ):
                continue
            other = self._compose(question, result, history, source=h)
            if other.answered and detail.holds(self._cited_text(other), kind):
                return other
        return comp

    def check_premise(self, question: str, comp: Composition) -> Composition:
        """An answer to "是不是…/…对吗" whose quoted records do not hold the figure or the unit
        the question states says so first, and is not a yes (answer/premise.py)."""
        if not comp.answered or not comp.citations or not premise.CONFIRM.search(question):
            return comp
        claims = premise.unsupported(
            question, self._cited_text(comp), self.index.units, lambda s: self.index.expand(s)[0]
        )
        if not claims:
            return comp
        message = prompts.FALSE_PREMISE.format(claims="、".join(claims))
        return self._not_a_yes(comp, message, "false_premise")

    def check_detail(self, question: str, comp: Composition) -> Composition:
        """An answer whose records do not state the kind of figure asked for (an amount, a
        duration, a frequency, a rate) says so first, quotes them, and is not an answer."""
        kind = detail.asked(question)
        if not kind or not comp.answered or not comp.citations:
            return comp
        if detail.holds(self._cited_text(comp), kind):
            return comp
        return self._not_a_yes(comp, prompts.NO_DETAIL.format(kind=kind), "no_detail")

    def _cited_text(self, comp: Composition) -> str:
        return " ".join(
            self.index.records[c].text for c in comp.citations if c in self.index.records
        )

    @staticmethod
    def _not_a_yes(comp: Composition, message: str, reason: str) -> Composition:
        """What the question gets wrong or the records lack, said first; the records' own words
        after it, still cited; not counted as an answer."""
        return comp.model_copy(
            update={"text": f"{message}\n\n{comp.text}", "answered": False, "reason": reason}
        )

    def not_in_plan(self, question: str, result: SearchResult) -> Composition:
        """The decline for evidence that does not answer the question, naming what is near."""
        words = self.index.tokenizer.tokens(self.index.expand(question)[0])
        return self._decline("not_in_plan", prompts.NOT_IN_PLAN, result.hits, words)

    def _answering_source(self, hits: list[Hit], intent: Intent) -> Hit:
        """The ranked first source answers (the ranking is learned; a hand rule that moved to a
        source sharing more of the question's words lost 169 citations for 21 it won over the
        training questions), except that a question asking which unit leads is answered by an
        item or a task, which name lead units, when one ranks in the first three."""
        if hits[0].via != "lookup" and "department" in intent.kinds:
            fielded = [h for h in hits[:3] if h.kind in {"item", "task"}]
            if fielded:
                return fielded[0]
        return hits[0]

    def _best_clause(self, text: str, focus: list[str]) -> float:
        pieces = [p for p in re.split(r"(?<=[。；！？\n])", text) if p.strip()]
        return max((self._overlap(focus, p) for p in pieces), default=0.0)

    # ------------------------------------------------------------ declines

    def _decline(
        self, reason: str, message: str, hits: list[Hit], words: list[str] | None = None
    ) -> Composition:
        near = [h for h in hits[:3] if h.evidence >= self.min_evidence * 0.7]
        if words is not None:  # suggest only what shares a word with the question, never for "asdf"
            near = [h for h in near if any(self._overlap_chunk(words, c) for c in h.chunk_ids[:3])]
        near = near[:2]
        text = message
        if near:
            items = "、".join(h.readable for h in near)
            text += prompts.NEAREST.format(items=items)
        return Composition(text=text, citations=[], answered=False, reason=reason)

    def _overlap_chunk(self, words: list[str], chunk_id: str) -> bool:
        pos = self.index.chunk_pos.get(chunk_id)
        return pos is not None and self.index.coverage(words, pos) > 0

    # ------------------------------------------------------------ items

    def _several_items(
        self, intent: Intent, hits: list[Hit], question: str, top: Hit | None = None
    ) -> list[ServiceItem]:
        """Items to list together when the question asks for several ("哪些", "有什么"): those
        as close to the question as the best one, and every item whose 服务对象 names the group
        of people the question names ("老年人能享受哪些服务" → each item for 老年人)."""
        if not _SEVERAL.search(question):
            return []
        best = (top or hits[0]).evidence
        out = []
        for h in hits:
            rec = self.index.records[h.id]
            if isinstance(rec, ServiceItem) and h.evidence >= best - 0.15:
                out.append(rec)
        # a question naming one item ("学前教育政府助学金资助哪些孩子") asks about that item
        group = [] if self.index.lookup_cached(question) else self._group_items(question)
        if group:
            ranked = {h.id: i for i, h in enumerate(hits)}
            out = sorted(group, key=lambda r: ranked.get(r.id, len(ranked)))
        return out  # _items shows at most max_items of them and says how many there are

    def _group_items(self, question: str) -> list[ServiceItem]:
        """Items whose 服务对象 holds a group the question names: a word of the question that
        the plan uses in several items' 服务对象 (老年人, 残疾人, 孕产妇, 新生儿), not in most."""
        words = self._words(question)
        holders = self.index.target_words
        groups = [
            w
            for w in dict.fromkeys(words)
            if len(w) >= 2 and w[-1] in _PERSON_ENDINGS and 2 <= len(holders.get(w, ())) <= 12
        ]
        groups = [w for w in groups if not any(w != g and w in g for g in groups)]  # 老年 in 老年人
        if len(groups) != 1:
            return []  # no group, or several (the question is about their overlap): not a list
        group = groups[0]
        # "老年人能享受哪些服务" asks for the group's items; "农村留守儿童指的是哪些孩子" and
        # "老人能享受哪些健康服务" name more than the group (a rarer word): retrieval answers those
        more = [
            w
            for w in words
            if w in self.index.vocab
            and w not in group
            and group not in w
            and self.index.idf.get(w, 0.0) >= _GENERIC_IDF
        ]
        if more:
            return []
        return [self.index.records[i] for i in holders[group]]

    def _named_items(self, question: str, hits: list[Hit]) -> list[ServiceItem]:
        """Items a question names one after another and asks about each ("孕产妇和儿童健康管理
        各自的标准", "失业、工伤、生育这仨保险分别给啥待遇"): a distributive word (分别, 各自,
        这两样) and a clause that enumerates (、, 和, 与). Each enumerated part gets the item whose
        words (its name's twice) it holds most, no item twice; fewer than two: not a list."""
        # a quoted phrase ("“企业订单、劳动者选单”之后的两项") is words of the plan, not a list
        question = _QUOTED.sub("", question)
        records = self.index.records
        if any(
            records[c].kind != "item" for c in self.index.lookup_cached(question) if c in records
        ):
            return []  # "专栏3里小学、中学的班额分别…" asks about what the named box says
        parts = [
            p
            for clause in _CLAUSES.split(question)
            if _ENUMERATION.search(clause)
            for p in _ENUMERATION.split(clause)
            if p.strip()
        ]
        # a terse lookup names them between spaces ("生育保险 失业保险 谁出钱"): each part that
        # counts must then hold words of an item's name, not just of its text
        spaced = len(parts) < 2
        if spaced:
            # a lookup's terms, not a chat message whose spaces separate clauses: short parts
            parts = [p for p in question.split() if p.strip()]
            if len(question) > _TERSE or any(len(p) > _TERSE_PART for p in parts):
                return []
        elif not _DISTRIBUTIVE.search(question):
            return []
        if len(parts) < 2:
            return []
        # every item is a candidate (100 short texts, a few words each: well under a millisecond);
        # the retrieved ones first, so that they win ties
        ranked = {h.id: i for i, h in enumerate(hits)}
        items = sorted(
            (r for r in self.index.records.values() if isinstance(r, ServiceItem)),
            key=lambda r: ranked.get(r.id, len(ranked)),
        )

        def score(words: dict[str, float], r: ServiceItem) -> float:
            # words as strings, not tokens (居民基本医疗保险 holds 基本医疗保险); a word of the
            # item's name counts twice: 失业保险's text mentions 基本医疗保险 too
            if spaced:  # the part is a name: (nearly) all its words are the item's name's
                named = sum(w for t, w in words.items() if t in r.name)
                return 2 * named if named >= 0.8 * sum(words.values()) else 0.0
            return sum(w * (2 if t in r.name else 1) for t, w in words.items() if t in r.text)

        # one item per enumerated part, the strongest pairs first
        part_words = [self._weights(p) for p in parts]
        # on a tie the item named most exactly wins (最低生活保障 over 无业重度残疾人最低生活保障)
        pairs = sorted(
            ((score(w, r), -len(r.name), i, r.id) for i, w in enumerate(part_words) for r in items),
            reverse=True,
        )
        taken: dict[int, str] = {}
        for sc, _, i, cid in pairs:
            if sc < _NAMING_IDF:  # holds no word that names it (one rare word, idf ≥ 4)
                break
            if i not in taken and cid not in taken.values():
                taken[i] = cid
        if len(taken) < 2:
            return []
        return [self.index.records[taken[i]] for i in sorted(taken)]

    def _words(self, text: str) -> list[str]:
        return self.index.content_tokens(self.index.tokenizer.tokens(self.index.expand(text)[0]))

    def _weights(self, text: str) -> dict[str, float]:
        """The text's subject words with their IDF, distributive words ("分别", "各") left out."""
        return {
            t: self.index.idf.get(t, 1.0)
            for t in self._words(text)
            if t in self.index.vocab and not _DISTRIBUTIVE.fullmatch(t) and t != "各"
        }

    def _field(
        self, rec: ServiceItem, intent: Intent, focus: list[str] | None = None
    ) -> list[tuple[str, str]]:
        explicit = [
            FIELD_FOR_INTENT[k]
            for k in ("department", "funding", "eligibility", "amount")
            if k in intent.kinds
        ]
        chosen = list(explicit)
        if not chosen or self._inherited:
            chosen += [("standard", "服务指导标准"), ("target", "服务对象")]
        learned = FIELD_FOR_ATTRIBUTE.get(intent.asked or "")
        # the learned ask leads (cross-validated 0.83, the question-word patterns ~0.5) unless
        # the question names another field outright and the model is unsure
        if learned and (intent.asked_p >= 0.5 or not explicit):
            chosen = [learned, *chosen]
        chosen = list(dict.fromkeys(chosen))[:2]
        if focus:
            # the field whose words the question uses most, when that is not already chosen
            words = [
                t
                for t in self.index.content_tokens(focus)
                if t not in self.index.tokenizer.tokens(rec.name)
            ]
            by_overlap = max(
                (FIELD_FOR_INTENT[k] for k in ("amount", "eligibility", "funding")),
                key=lambda f: self._best_clause(getattr(rec, f[0]), words),
            )
            if (
                by_overlap not in chosen
                and self._best_clause(getattr(rec, by_overlap[0]), words) > 0
            ):
                chosen = [*chosen[:1], by_overlap]
        return chosen

    def _item(
        self, rec: ServiceItem, intent: Intent, focus: list[str], question: str
    ) -> Composition:
        parts, quoted = [], False
        for attr, label in self._field(rec, intent, focus):
            text = self._item_field_text(rec, attr, focus, question)
            if attr == "standard":
                quoted = True
                if _MONEY_QUESTION.search(question) and not _HAS_FIGURE.search(text):
                    lead = rec.lead
                    msg = (
                        f"{prompts.NO_AMOUNT}{rec.readable}的服务指导标准是：{text}"
                        f"{cite(rec.readable, label)} 具体标准请咨询{lead}或拨打12345。"
                    )
                    return Composition(
                        text=msg, citations=[rec.id], answered=False, reason="no_amount"
                    )
            parts.append(f"**{label}**：{text}{cite(rec.readable, label)}")
        head = f"**{rec.name}**（{rec.readable}）"
        return Composition(
            text=head + "\n\n" + "\n\n".join(parts),
            citations=[rec.id],
            answered=True,
            quoted_standard=quoted,
        )

    def _item_field_text(
        self, rec: ServiceItem, attr: str, focus: list[str], question: str = ""
    ) -> str:
        if attr == "lead":
            return rec.lead
        if len(rec.rows) > 1:
            # pick the group the user means (寄宿/非寄宿, 公办/民办), in the plan's words too
            # (不住校 → 非寄宿); keep it paired with its own value
            words = list(focus)
            if question:
                words += self.index.tokenizer.tokens(self.index.expand(question)[0])
            words = list(dict.fromkeys(words))
            # the turn's own words that tell the groups apart choose (非寄宿 against 寄宿, not
            # 寄宿 found in both); an earlier turn's words only break a tie
            texts = [r.target + getattr(r, attr) for r in rec.rows]
            held = [set(self.index.tokenizer.tokens(t)) for t in texts]
            telling = [
                w for w in words if len(w) >= 2 and 0 < sum(w in h for h in held) < len(held)
            ]
            scored = [
                (self._own_overlap(telling, t), self._overlap(words, t), i, r)
                for i, (t, r) in enumerate(zip(texts, rec.rows, strict=True))
            ]
            best = max(scored, key=lambda x: (x[0], x[1], -x[2]))
            if best[1] > 0 and attr != "target":
                row = best[3]
                return f"{row.target}：{getattr(row, attr)}"
            return (
                "；".join(f"{r.target}：{getattr(r, attr)}" for r in rec.rows)
                if attr != "target"
                else rec.target
            )
        return self._select(getattr(rec, attr), focus, limit=160)

    def _items(
        self, recs: list[ServiceItem], intent: Intent, focus: list[str], question: str
    ) -> Composition:
        lines, quoted = [], False
        attr, label = self._field(recs[0], intent)[0]
        total, recs = len(recs), recs[: self.max_items]
        for rec in recs:
            text = self._select(getattr(rec, attr) if attr != "lead" else rec.lead, focus, limit=90)
            quoted = quoted or attr == "standard"
            lines.append(f"- **{rec.name}**：{text}{cite(rec.readable, label)}")
        head = (
            f"规划中相关的服务项目有{total}项："
            if total == len(recs)
            else f"规划中相关的服务项目有{total}项，以下是最相关的{len(recs)}项："
        )
        return Composition(
            text=head + "\n" + "\n".join(lines),
            citations=[r.id for r in recs],
            answered=True,
            quoted_standard=quoted,
        )

    def _unit_items(self, intent: Intent, hits: list[Hit]) -> Composition:
        unit = intent.units[0]
        ids = self.index.items_led_by(unit)
        recs = [self.index.records[i] for i in ids]
        first = [r for r in recs if r.lead_units[0] == unit]
        shared = [r for r in recs if r.lead_units[0] != unit]
        lines = [f"- **{r.name}**{cite(r.readable, '牵头负责单位')}" for r in first]
        text = f"{unit}牵头负责的服务项目有{len(first)}项：\n" + "\n".join(lines) if first else ""
        if shared:
            names = "、".join(f"{r.name}（{r.readable.split('「')[0]}）" for r in shared)
            text += f"\n\n{unit}还与其他单位共同负责：{names}。"
        if not text:
            return self._decline("not_in_plan", prompts.NOT_IN_PLAN, hits)
        return Composition(
            text=text.strip(), citations=[r.id for r in first + shared], answered=True
        )

    def _unit_tasks(self, intent: Intent, hits: list[Hit]) -> Composition:
        """The 附件2 tasks a unit leads, each cited; those it only shares after them."""
        unit = intent.units[0]
        recs = [self.index.records[i] for i in self.index.tasks_led_by(unit)]
        if not recs:
            return self._decline("not_in_plan", prompts.NOT_IN_PLAN, hits)
        lead = [r for r in recs if self.index.task_lead(r, unit)]
        shared = [r for r in recs if r not in lead]
        parts = []
        if lead:
            lines = "\n".join(f"- {r.task}{cite(r.readable, '责任单位')}" for r in lead)
            parts.append(f"附件2重点任务分工方案中，{unit}牵头的任务有{len(lead)}项：\n{lines}")
        if shared:
            also = "、".join(f"{r.task}{cite(r.readable, '责任单位')}" for r in shared)
            parts.append(f"{unit}还参与：{also}")
        return Composition(
            text="\n\n".join(parts), citations=[r.id for r in lead + shared], answered=True
        )

    # ------------------------------------------------------------ boxes, tasks, sections

    def _directory(self, box: Box, intent: Intent, top: Hit) -> Composition:
        rows = [d for d in box.directory if d.domain in intent.domains and d.count]
        if not rows:
            rows = [d for d in box.directory if not d.count] or box.directory[-1:]
            total = rows[0].domain
            domains = "、".join(d.domain for d in box.directory if d.count)
            text = f"{total}：{domains}。{cite(box.readable)}"
            return Composition(text=text, citations=[box.id], answered=True)
        lines = [f"**{d.domain}**（{d.count}项）：{d.items}{cite(box.readable)}" for d in rows]
        return Composition(text="\n\n".join(lines), citations=[box.id], answered=True)

    def _document(self, rec: Section, focus: list[str], top: Hit) -> Composition:
        m = self.meta
        y, mo, d = (int(x) for x in m.issued.split("-"))
        facts = f"《{m.title}》由{m.issuer}印发，文号{m.doc_number}，印发日期{y}年{mo}月{d}日，规划期{m.period}年。"
        extra = self._select(rec.text, focus, limit=160, min_overlap=1)
        text = facts + cite(rec.readable)
        if extra:
            text += f"\n\n原文：{extra}{cite(rec.readable)}"
        return Composition(text=text, citations=[rec.id], answered=True)

    def _task(self, rec: Task) -> Composition:
        text = f"**{rec.readable}**：{rec.task}\n\n**责任单位**：{rec.units}{cite(rec.readable)}"
        return Composition(text=text, citations=[rec.id], answered=True)

    def _indicator(self, box: Box, top: Hit, focus: list[str]) -> Composition:
        chosen = []
        for cid in top.chunk_ids[:3]:
            n = int(cid.rsplit("#", 1)[1])
            if n < len(box.indicators):
                chosen.append(box.indicators[n])
        if not chosen:
            return self._passage(box, top, focus, Intent())
        if self._context:
            best = self._indicator_of_followup(box, chosen, focus)
        else:
            best = max(chosen, key=lambda i: self._overlap(focus, i.name + i.domain))
        text = f"{indicator_line(best)}{cite(box.readable, '主要发展指标')}"
        return Composition(text=text, citations=[box.id], answered=True, quoted_standard=True)

    def _indicator_of_followup(self, box: Box, retrieved: list, focus: list[str]):
        """The row a follow-up asks about: the one its own words name ("药品呢" after 食品抽检合格率
        → 药品抽检合格率), over every row of the table; when its words name none ("2015年的呢"),
        the row of the conversation (the earlier question's words)."""
        words = self._words(" ".join(focus))
        own = {id(i): self._own_overlap(words, i.name) for i in box.indicators}
        if max(own.values(), default=0.0) > 0:
            return max(
                box.indicators,
                key=lambda i: (own[id(i)], self._overlap(self._context, i.name + i.domain)),
            )
        first = {id(i) for i in retrieved}
        return max(
            box.indicators,
            key=lambda i: (self._overlap(focus + self._context, i.name + i.domain), id(i) in first),
        )

    def _outline(self, rec: Section) -> Composition | None:
        """A part with no text of its own (四、保障措施) is answered by what it is made of."""
        children = [
            r
            for r in self.index.records.values()
            if isinstance(r, Section) and r.id.startswith(rec.id + "（")
        ]
        if not children:
            return None
        lines = []
        for c in children:
            first = ""
            if len(children) <= 5:  # one sentence each; a long list gets titles only
                sentences = [x for x in re.split(r"(?<=[。；])", c.text) if x.strip()]
                sentences = [x for x in sentences if x.strip("。；") != c.title]  # the run-in head
                first = sentences[0] if sentences else ""
            if len(first) > 80:
                first = first[:80] + "……"
            body = f"：{first}" if first else ""
            lines.append(f"- **（{c.key.split('（')[-1]}{c.title}**{body}{cite(c.readable)}")
        head = f"**{rec.key}、{rec.title}**包括{len(children)}个方面{cite(rec.readable)}："
        return Composition(
            text=head + "\n" + "\n".join(lines),
            citations=[rec.id] + [c.id for c in children],
            answered=True,
        )

    def _points(self, rec: Section) -> Composition | None:
        """A part written as numbered points (1.注重保障基本。…) asked for as a whole ("有哪几条",
        "从哪几个方面"): every point's head with its first sentence, a line each."""
        lines, intro = [], ""
        for p in rec.paragraphs:
            m = _POINT.match(p.text)
            if m is None:
                if not lines and not intro:  # what the points are points of ("到2020年，…")
                    sentences = re.split(r"(?<=[。；])", p.text)
                    intro = next(
                        (x for x in sentences if len(x.strip("。； ")) > len(rec.title) + 2), ""
                    )
                continue
            rest = [x for x in re.split(r"(?<=[。；])", p.text[m.end() :]) if x.strip()]
            first = rest[0] if rest else ""
            if len(first) > 60:
                first = first[:60] + "……"
            lines.append(f"- **{m.group(1)}.{m.group(2)}**：{first}")
        if len(lines) < 2:
            return None
        head = f"**{rec.title}**共{len(lines)}条{cite(rec.readable)}：{intro}"
        return Composition(text=head + "\n" + "\n".join(lines), citations=[rec.id], answered=True)

    def _task_of_domain(self) -> Task | None:
        """附件2's task for the domain the conversation is about ("这个领域的任务谁牵头" after a
        question on 残疾人托养): the domain whose own words (its items' names, its 专栏1 rows,
        its section's title) the earlier question shares most, and the task naming it."""
        vocab = self._domain_vocabulary()
        scores = {d: self._idf_sum(set(self._context), words) for d, words in vocab.items()}
        domain = max(scores, key=scores.get, default=None)
        if domain is None or scores[domain] <= 0:
            return None
        for t in self.index.records.values():
            if isinstance(t, Task) and (domain in t.text or domain.removesuffix("服务") in t.text):
                return t
        return None

    def _domain_vocabulary(self) -> dict[str, set[str]]:
        cached = getattr(self, "_domains", None)
        if cached is not None and cached[0] is self.index:
            return cached[1]
        texts: dict[str, list[str]] = {}
        for rec in self.index.records.values():
            if isinstance(rec, ServiceItem):
                texts.setdefault(rec.domain, []).append(rec.name)
            elif isinstance(rec, Box):
                for row in rec.indicators:
                    texts.setdefault(row.domain, []).append(row.name)
        for rec in self.index.records.values():
            if isinstance(rec, Section) and rec.title in texts:  # the domain's own section
                texts[rec.title].append(rec.title)
        vocab = {
            d: set(self.index.content_tokens(self.index.tokenizer.tokens(" ".join(t))))
            for d, t in texts.items()
        }
        self._domains = (self.index, vocab)
        return vocab

    def _box_rows(self, box: Box, question: str) -> Composition | None:
        """What a box lists, asked as a whole ("专栏7包括哪些工程", "残疾人重点工作有哪几项"):
        every row's name with the opening of its text. A question that names one row ("光荣院
        建设有哪些内容", "专栏3教师队伍建设提出哪些计划") is about that row: the passage answers it."""
        words = self._words(question)
        named = [r for r in box.rows if self._own_overlap(words, r.name) >= _NAMING_IDF]
        if len(named) == 1:
            return None
        lines = [
            f"- **{r.name}**：{_opening(r.text.removeprefix(r.name).lstrip('：:'))}"
            for r in box.rows
        ]
        head = f"{box.readable}列了{len(box.rows)}项："
        text = head + "\n" + "\n".join(lines) + cite(box.readable)
        return Composition(
            text=text,
            citations=[box.id],
            answered=True,
            quoted_standard=bool(_HAS_FIGURE.search(text)),
        )

    def _passage(self, rec, top: Hit, focus: list[str], intent: Intent) -> Composition:
        if isinstance(rec, Section) and not rec.paragraphs:
            outline = self._outline(rec)
            if outline is not None:
                return outline
        chunks = [
            self.index.chunks[self.index.chunk_pos[c]]
            for c in top.chunk_ids[:3]
            if c in self.index.chunk_pos
        ]
        body = "\n".join(c.page_content.split("\n", 1)[-1] for c in chunks) or rec.text
        text = self._select(
            body,
            focus,
            limit=220,
            prefer_figures="amount" in intent.kinds or "deadline" in intent.kinds,
        )
        heading = chunks[0].metadata.get("heading", "") if chunks else ""
        where = heading.split(" › ")[-1] if heading else rec.title
        return Composition(
            text=f"**{where}**：{text}{cite(rec.readable)}",
            citations=[rec.id],
            answered=True,
            quoted_standard=bool(_HAS_FIGURE.search(text)),
        )

    # ------------------------------------------------------------ text selection

    def _idf_sum(self, words, have: set[str]) -> float:
        return sum(self.index.idf.get(t, 1.0) for t in words if t in have)

    def _own_overlap(self, words: list[str], text: str) -> float:
        return self._idf_sum(set(words), set(self.index.tokenizer.tokens(text)))

    def _overlap(self, focus: list[str], text: str) -> float:
        have = set(self.index.tokenizer.tokens(text))
        own = set(focus)
        # words of the earlier turn help choose, at half weight ("2020年呢？" after an indicator)
        return self._idf_sum(own, have) + 0.5 * self._idf_sum(set(self._context) - own, have)

    def _select(
        self,
        text: str,
        focus: list[str],
        limit: int,
        prefer_figures: bool = False,
        min_overlap: float = 0,
    ) -> str:
        """The clauses of ``text`` the focus words point at, in document order, within ``limit``."""
        text = text.strip()
        if len(text) <= limit and not min_overlap:
            return text
        pieces = [p for p in re.split(r"(?<=[。；！？\n])", text) if p.strip()]
        # a lead phrase ("指导思想。") is a heading, not an answer
        lead = [
            p
            for p in pieces
            if len(p.strip()) <= 14 and p.strip().endswith("。") and not _HAS_FIGURE.search(p)
        ]
        if len(pieces) > len(lead):
            pieces = [p for p in pieces if p not in lead]
        scored = []
        for i, p in enumerate(pieces):
            s = self._overlap(focus, p)
            if prefer_figures and _HAS_FIGURE.search(p):
                s += 1.0
            scored.append((s, i, p.strip()))
        best = sorted(scored, key=lambda x: (-x[0], x[1]))
        if min_overlap and (not best or best[0][0] < min_overlap):
            return ""
        keep, size = [], 0
        for s, i, p in best:
            if keep and (s <= 0 or size + len(p) > limit):
                continue
            keep.append((i, p))
            size += len(p)
        keep.sort()
        out = "".join(p for _, p in keep)
        return out if len(out) <= limit * 1.5 else out[: int(limit * 1.5)] + "…"


def _opening(text: str, limit: int = 40) -> str:
    """A row's text up to its first full stop or semicolon, cut at the limit with an ellipsis."""
    head = re.split(r"(?<=[。；])", text, maxsplit=1)[0]
    return head if len(head) <= limit else head[:limit] + "……"
