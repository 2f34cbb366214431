"""The extractive composer: understand the turn (the conversation's carry-over), select the
evidence (evidence.py), decide what kind of answer it is (here: declines, then the route to one
renderer per kind of record, render.py), then check it (a false premise, a missing detail)."""

from __future__ import annotations

import copy
from functools import cached_property

from .. import prompts
from ..documents import Box, PlanMeta, Section, ServiceItem, Task
from ..intents import detect
from ..retrieval import Hit, PlanIndex, SearchResult
from . import detail, premise
from .asks import (
    ASKS_DOMAIN_TASK,
    ASKS_LIST,
    ASKS_POINTS,
    FIELD_FOR_INTENT,
)
from .evidence import EvidenceSelection
from .features import missing_ref
from .render import Composition, Renderers, cite
from .text import TextSelection


class Composer(EvidenceSelection, Renderers, TextSelection):
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
        # what the conversation carries into this answer (compose sets them on its own copy)
        self._context: list[str] = []  # the earlier question's words, for a follow-up
        self._inherited = False  # a follow-up naming no kind of ask asks what the earlier one did

    def compose(self, question: str, result: SearchResult) -> Composition:
        """The answer from the evidence; a claim the question asks to confirm that the quoted
        records do not hold turns it into a correction (check_premise). Answers run
        concurrently: each composes on its own shallow copy, which holds what its turn
        carries over from the conversation."""
        job = copy.copy(self)
        job._context, job._inherited = job._carry_over(result)
        return job._checked(question, result)

    def _checked(self, question: str, result: SearchResult) -> Composition:
        comp = self._compose(question, result)
        comp = self._with_asked_detail(question, result, comp)
        comp = self.check_premise(question, comp)
        comp = self.check_detail(question, comp)
        comp = self.check_actual(question, comp)
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
        self, question: str, result: SearchResult, source: Hit | None = None
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
        levels = [lv for lv in intent.levels if lv not in rec.text]
        if levels:  # another level's own list or standard, which this plan does not give
            return self._decline("other_level", prompts.OTHER_LEVEL, hits)
        named = self.index.lookup_cached(question)  # an ID or a name the user typed
        if "task" in intent.kinds and intent.units and top.kind == "task" and not named:
            return self._unit_tasks(intent, hits)
        if "list" in intent.kinds and intent.units and top.kind == "item":
            return self._unit_items(intent, hits)
        if isinstance(rec, Box) and rec.directory:
            return self._directory(rec, intent, top, question)
        if "document" in intent.kinds and top.id == self.index.front_matter:
            return self._document(rec, focus, top)
        if result.followup and ASKS_DOMAIN_TASK.search(question):
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
        if isinstance(rec, Box) and rec.rows and ASKS_LIST.search(question):
            listed = self._box_rows(rec, question)
            if listed is not None:
                return listed
        if isinstance(rec, Section) and rec.title in question and ASKS_POINTS.search(question):
            # the part named as a whole ("基本原则有哪几条"), not a question about one of its points
            points = self._points(rec)
            if points is not None:
                return points
        return self._passage(rec, top, expanded, intent)  # the plan's own words count

    def _carry_over(self, result: SearchResult) -> tuple[list[str], bool]:
        """A follow-up's earlier question: its words (the context), and its kinds of ask when the
        follow-up names none of its own ("那农村的呢" asks what the question before asked)."""
        turn = result.turn
        if turn is None or not turn.followup:
            return [], False
        previous = self.index.tokenizer.tokens(turn.previous)
        if result.intent.kinds - {"list"}:
            return previous, False
        result.intent.kinds |= detect(turn.previous, self.index.units).kinds
        return previous, True

    def check_premise(self, question: str, comp: Composition) -> Composition:
        """An answer to "是不是…/…对吗" (or to a claim said as hearsay, the plan's own word or a
        terse statement) whose quoted records do not hold the figure, unit, payer or name the
        question states says so first, and is not a yes (answer/premise.py)."""
        if not comp.answered or not comp.citations:
            return comp
        claims = premise.unsupported(  # [] when the question states nothing to confirm
            question,
            self._cited_text(comp),
            self.index.units,
            lambda s: self.index.expand(s)[0],
            titles=self._titles,
        )
        if not claims:
            return comp
        message = prompts.FALSE_PREMISE.format(claims="、".join(claims))
        return self._not_a_yes(self._with_claimed_fields(question, comp), message, "false_premise")

    def _with_claimed_fields(self, question: str, comp: Composition) -> Composition:
        """A correction of who leads or who pays quotes the item's own field for it ("孤儿生活费
        是妇联发的吧": the plan's 牵头负责单位), when the answer did not already."""
        rec = self.index.records.get(comp.citations[0])
        if not isinstance(rec, ServiceItem):
            return comp
        extra = []
        for kind in premise.fields_claimed(question):
            attr, label = FIELD_FOR_INTENT[kind]
            if f"**{label}**" not in comp.text:
                text = self._item_field_text(rec, attr, [], question)
                extra.append(f"**{label}**：{text}{cite(rec.readable, label)}")
        if not extra:
            return comp
        head, sep, rest = comp.text.partition("\n\n")
        return comp.model_copy(update={"text": f"{head}{sep}" + "\n\n".join(extra) + f"\n\n{rest}"})

    @cached_property
    def _titles(self) -> tuple[str, ...]:
        """The names of the records, longest first."""
        return tuple(sorted({n for n, _ in self.index.item_names if len(n) >= 4}, key=len)[::-1])

    def check_detail(self, question: str, comp: Composition) -> Composition:
        """An answer whose records do not state the kind of figure asked for (an amount, a
        duration, a frequency, a rate) says so first, quotes them, and is not an answer."""
        kind = detail.asked(question)
        if not kind or not comp.answered or not comp.citations:
            return comp
        if detail.holds(self._cited_text(comp), kind):
            return comp
        return self._not_a_yes(comp, prompts.NO_DETAIL.format(kind=kind), "no_detail")

    def check_actual(self, question: str, comp: Composition) -> Composition:
        """An answer to what was achieved or is the case now ("实际达到多少", "现在建成几个了")
        says first that the plan sets targets and standards only, quotes them, and is not an
        answer: the plan's target is not what happened."""
        if not comp.answered or not comp.citations or not detail.asks_actual(question):
            return comp
        return self._not_a_yes(comp, prompts.ACTUAL_FIGURE, "actual_figure")

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
