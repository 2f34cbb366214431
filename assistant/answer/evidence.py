"""Selecting the evidence: which ranked source answers, which items a question names or asks
about together, and which 附件2 task belongs to the conversation's domain."""

from __future__ import annotations

from ..documents import Box, Section, ServiceItem, Task
from ..intents import Intent
from ..retrieval import Hit, SearchResult
from . import detail
from .asks import (
    CLAUSES,
    DISTRIBUTIVE,
    ENUMERATION,
    GENERIC_IDF,
    NAMING_IDF,
    PERSON_ENDINGS,
    QUOTED,
    SEVERAL,
    TERSE,
    TERSE_PART,
)
from .render import Composition


class EvidenceSelection:
    """Mixed into the Composer."""

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

    def _with_asked_detail(
        self, question: str, result: SearchResult, comp: Composition
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
            other = self._compose(question, result, source=h)
            if other.answered and detail.holds(self._cited_text(other), kind):
                return other
        return comp

    def _several_items(
        self, intent: Intent, hits: list[Hit], question: str, top: Hit | None = None
    ) -> list[ServiceItem]:
        """Items to list together when the question asks for several ("哪些", "有什么"): those
        as close to the question as the best one, and every item whose 服务对象 names the group
        of people the question names ("老年人能享受哪些服务" → each item for 老年人)."""
        if not SEVERAL.search(question):
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
            if len(w) >= 2 and w[-1] in PERSON_ENDINGS and 2 <= len(holders.get(w, ())) <= 12
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
            and self.index.idf.get(w, 0.0) >= GENERIC_IDF
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
        question = QUOTED.sub("", question)
        records = self.index.records
        numbered = [records[c] for c in self.index.numbered(question)]
        if len(numbered) > 1 and all(isinstance(r, ServiceItem) for r in numbered):
            return numbered  # "清单61 清单62 支出责任": each item written out by its number
        if any(
            records[c].kind != "item" for c in self.index.lookup_cached(question) if c in records
        ):
            return []  # "专栏3里小学、中学的班额分别…" asks about what the named box says
        parts = [
            p
            for clause in CLAUSES.split(question)
            if ENUMERATION.search(clause)
            for p in ENUMERATION.split(clause)
            if p.strip()
        ]
        # a terse lookup names them between spaces ("生育保险 失业保险 谁出钱"): each part that
        # counts must then hold words of an item's name, not just of its text
        spaced = len(parts) < 2
        if spaced:
            # a lookup's terms, not a chat message whose spaces separate clauses: short parts
            parts = [p for p in question.split() if p.strip()]
            if len(question) > TERSE or any(len(p) > TERSE_PART for p in parts):
                return []
        elif not DISTRIBUTIVE.search(question):
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
            if sc < NAMING_IDF:  # holds no word that names it (one rare word, idf ≥ 4)
                break
            if i not in taken and cid not in taken.values():
                taken[i] = cid
        if len(taken) < 2:
            return []
        if spaced and any(sum(score(part_words[i], r) > 0 for i in taken) > 1 for r in items):
            return []  # one item's name holds two of the terms: "普高 免学费" is one item, 清单-7
        return [self.index.records[taken[i]] for i in sorted(taken)]

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
