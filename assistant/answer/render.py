"""Rendering: one answer text per kind of record (an item's asked field, several items, a
task, a 专栏1 row, a box's rows, the directory, the notice, a section's points or outline, a
passage), each sentence with its readable citation."""

from __future__ import annotations

import re

from pydantic import BaseModel

from .. import prompts
from ..documents import Box, Section, ServiceItem, Task, indicator_line
from ..intents import Intent
from ..retrieval import Hit
from .asks import (
    FIELD_FOR_ATTRIBUTE,
    FIELD_FOR_INTENT,
    HAS_FIGURE,
    MONEY_QUESTION,
    NAMING_IDF,
    POINT,
)
from .text import opening


def cite(readable: str, field: str | None = None) -> str:
    return f"〔{readable}·{field}〕" if field else f"〔{readable}〕"


class Composition(BaseModel):
    text: str
    citations: list[str]
    answered: bool
    reason: str | None = None
    quoted_standard: bool = False


class Renderers:
    """Mixed into the Composer."""

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
                if MONEY_QUESTION.search(question) and not HAS_FIGURE.search(text):
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

    def _directory(self, box: Box, intent: Intent, top: Hit, question: str = "") -> Composition:
        domains = intent.domains or self._domain_named(question)
        rows = [d for d in box.directory if d.domain in domains and d.count]
        if not rows:
            rows = [d for d in box.directory if not d.count] or box.directory[-1:]
            total = rows[0].domain
            domains = "、".join(d.domain for d in box.directory if d.count)
            text = f"{total}：{domains}。{cite(box.readable)}"
            return Composition(text=text, citations=[box.id], answered=True)
        lines = [f"**{d.domain}**（{d.count}项）：{d.items}{cite(box.readable)}" for d in rows]
        return Composition(text="\n\n".join(lines), citations=[box.id], answered=True)

    def _domain_named(self, question: str) -> list[str]:
        """The one domain a question names in everyday words ("上学这块管哪几样", "看病这块几项"):
        the domain whose own words (its items' names, its 专栏1 rows, its section's title) the
        question's words (aliases included: 上学 → 教育) weigh most in, when no other ties it."""
        if not question:
            return []
        # words, not figures: "10" is in an indicator's unit (1/10万), not a name
        words = {t for t in self._words(question) if len(t) >= 2 and not t.isascii()}
        # the domain's own name counts twice: 教育 in 残疾人教育 (an item of another domain) is
        # also in 基本公共教育
        scores = sorted(
            (
                (self._idf_sum(words, vocab) + self._own_overlap(list(words), d), d)
                for d, vocab in self._domain_vocabulary().items()
            ),
            reverse=True,
        )
        if not scores or scores[0][0] <= 0 or (len(scores) > 1 and scores[1][0] == scores[0][0]):
            return []
        return [scores[0][1]]

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
            m = POINT.match(p.text)
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

    def _box_rows(self, box: Box, question: str) -> Composition | None:
        """What a box lists, asked as a whole ("专栏7包括哪些工程", "残疾人重点工作有哪几项"):
        every row's name with the opening of its text. A question that names one row ("光荣院
        建设有哪些内容", "专栏3教师队伍建设提出哪些计划") is about that row: the passage answers it."""
        words = self._words(question)
        named = [r for r in box.rows if self._own_overlap(words, r.name) >= NAMING_IDF]
        if len(named) == 1:
            return None
        lines = [
            f"- **{r.name}**：{opening(r.text.removeprefix(r.name).lstrip('：:'))}"
            for r in box.rows
        ]
        head = f"{box.readable}列了{len(box.rows)}项："
        text = head + "\n" + "\n".join(lines) + cite(box.readable)
        return Composition(
            text=text,
            citations=[box.id],
            answered=True,
            quoted_standard=bool(HAS_FIGURE.search(text)),
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
            quoted_standard=bool(HAS_FIGURE.search(text)),
        )
