"""The order of another document's passages (across.Within): the clue words of the question
inside that document, the asked kind of figure, table rows after the paragraphs that hold the
same figures, a row named by its number. Wording of none of the question sets; BM25 only
(no vectors), so the words alone decide here."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.across import Across
from assistant.answer.attribute import AttributeModel
from assistant.documents import load_document, load_plans
from assistant.rerank import Reranker
from assistant.retrieval import PlanIndex, PlanRetriever
from assistant.settings import Settings
from assistant.text import load_aliases

from .conftest import CORPUS

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
RULES = "jn-fixture-rules"
NOTICE = "jn-fixture-notice"


@pytest.fixture(scope="module")
def library():
    plans = (
        load_plans(CORPUS)[0],
        load_document(FIXTURES / f"{NOTICE}.txt"),
        load_document(FIXTURES / f"{RULES}.txt"),
    )
    index = PlanIndex([r for p in plans for r in p.records], load_aliases(CORPUS))
    retriever = PlanRetriever(
        index=index,
        vectorstore=None,
        settings=Settings(),
        reranker=Reranker.load(),
        attributes=AttributeModel.load(),
    )
    across = Across.of(plans, today=dt.date(2022, 1, 1))
    return SimpleNamespace(index=index, retriever=retriever, across=across)


def ranked(lib, question: str, within: bool = True) -> list[str]:
    """The sources in the order the answer is composed from (service._answer_across)."""
    doc_of = lambda cid: lib.index.records[cid].plan  # noqa: E731
    result = lib.retriever.search(question, [], k=10)
    lib.across.newer_first(result, doc_of)
    lib.across.by_evidence(result, doc_of, lib.retriever if within else None)
    return [h.id for h in result.hits]


@pytest.mark.parametrize(
    "question, article",
    [
        # 第四条 names who 审核s and who 审批s; 第十二条 and 第十三条, deep in the rules, say in
        # how many days (the ranking alone puts 第四条 first for both)
        ("临时救助申请交到街道后，审核得几天？", "条款-12"),
        ("区县民政部门审批临时救助要多长时间？", "条款-13"),
    ],
)
def test_the_article_that_states_the_asked_duration_leads(library, question, article):
    assert ranked(library, question, within=False)[0] == f"{RULES}:条款-4"  # the old order
    # the rules' own order (without vectors the article's support is too weak to keep the
    # plan's 临时救助 from answering: see the tests of the later document's lead below)
    got = [c for c in ranked(library, question) if c.startswith(RULES)]
    assert got[0] == f"{RULES}:{article}", got
    # a date is no duration: 第十九条 (2021年9月1日起施行) is no answer to 几天
    assert f"{RULES}:条款-19" not in got[:3], got


def test_a_notice_paragraph_comes_before_its_table_rows(library):
    # the rows of 附件1 hold 高龄津贴 in their group label, but no row is asked about: the
    # paragraph with all three amounts answers
    question = "不同年龄段的高龄老人，每月津贴各给多少钱？"
    assert ":附件1-" in ranked(library, question, within=False)[0]  # the old order: a row
    got = [c for c in ranked(library, question) if c.startswith(NOTICE)]  # the notice's order
    assert got[0] == f"{NOTICE}:章节-二（二）", got
    first_row = next((i for i, c in enumerate(got) if ":附件1-" in c), len(got))
    assert all(":章节-" in c for c in got[:first_row]), got


def test_a_row_the_question_names_comes_first(library):
    # its own words (事实无人抚养儿童 is in no other row's name) name the row: it may answer
    got = ranked(library, "事实无人抚养儿童的原标准和新标准分别是什么？")
    assert got[0] in {f"{NOTICE}:附件1-3", f"{NOTICE}:章节-一（三）"}, got
    assert f"{NOTICE}:附件1-3" in got[:3], got


def test_a_row_named_by_its_number_is_a_lookup(library):
    doc_of = lambda cid: library.index.records[cid].plan  # noqa: E731
    result = library.retriever.search("通知附件1第6行是哪一类人？", [], k=10)
    library.across.newer_first(result, doc_of)
    library.across.by_evidence(result, doc_of, library.retriever)
    top = result.hits[0]
    assert top.id == f"{NOTICE}:附件1-6" and top.via == "lookup", [h.id for h in result.hits]
    assert library.across.supported(top, 0.35)


def test_support_needs_the_questions_own_words_in_the_passage(library):
    doc_of = lambda cid: library.index.records[cid].plan  # noqa: E731
    within = library.across.within(RULES, library.retriever)

    def support(question: str, cid: str) -> float:
        result = library.retriever.search(question, [], k=10)
        return within.support(result, f"{RULES}:{cid}")

    assert support("办法由哪个单位负责解释？", "条款-18") >= 0.5
    # 网上 and 银行卡 are words the rules never use
    assert support("临时救助能不能网上办，钱打到银行卡吗？", "条款-11") < 0.5
    # nothing of its own to hold: only the document's subject
    assert support("临时救助？", "条款-2") == 0.0
    assert doc_of(f"{RULES}:条款-18") == RULES


@pytest.mark.parametrize("stem", [NOTICE, RULES])
def test_the_development_sets_cite_what_their_document_holds(stem):
    """tests/fixtures/docs/*-dev.jsonl: questions written to develop the ranking on, apart
    from the fixture sets it is measured on; the same contract as those sets."""
    from assistant.ingest import read_document

    doc = read_document(FIXTURES / f"{stem}.txt")
    by_id = doc.by_id()
    rows = [
        json.loads(line)
        for line in (FIXTURES / f"{stem}-dev.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert len(rows) >= 30 and len({q["id"] for q in rows}) == len(rows)
    sets = [FIXTURES / f"{stem}.jsonl"]
    known = {json.loads(x)["question"] for p in sets for x in p.read_text("utf-8").splitlines()}
    for q in rows:
        assert q["question"] not in known, q["id"]  # not the measured set's questions
        if not q["answerable"]:
            assert not q["citations"] and not q["key_facts"], q["id"]
            continue
        texts = []
        for cid in q["citations"]:
            docid, _, local = cid.partition(":")
            assert docid == stem and local in by_id, (q["id"], cid)
            texts.append(re.sub(r"\s", "", by_id[local].text))
        for fact in q["key_facts"]:
            assert any(re.sub(r"\s", "", fact) in t for t in texts), (q["id"], fact)


def _moved_then_decided(lib, question: str, history=None) -> tuple[list[str], list[str], list]:
    """(the order newer_first proposed, the order by_evidence decided, the older hits)."""
    doc_of = lambda cid: lib.index.records[cid].plan  # noqa: E731
    result = lib.retriever.search(question, history or [], k=10)
    older = lib.across.newer_first(result, doc_of)
    proposed = [h.id for h in result.hits]
    lib.across.by_evidence(result, doc_of, lib.retriever)
    return proposed, [h.id for h in result.hits], older


def test_a_later_document_leads_when_it_states_the_new_figure(library):
    # the notice raises the amount the plan's item states: it answers first, the plan after it
    _, got, older = _moved_then_decided(library, "机构养育孤儿的生活费调到多少了？")
    assert got[0] == f"{NOTICE}:章节-一（二）", got
    assert [h.id for h in older][:1] == ["清单-56"], older


def test_a_later_document_does_not_lead_when_it_does_not_say_what_is_asked(library):
    # the notice is about the same orphans, but names no unit in the passages that came near:
    # the plan's item (its 牵头负责单位) answers, alone
    proposed, got, _ = _moved_then_decided(library, "孤儿养育保障由哪个部门牵头？")
    assert proposed[0].startswith(f"{NOTICE}:"), proposed  # what the date alone did before
    assert got[0] == "清单-56", got


def test_a_later_document_does_not_lead_a_follow_up_about_another_subject(library):
    # "多久做一次" after a question about the plan's health service: the rules' article on how
    # often 临时救助 may be given is near by its words, not by its subject
    history = [
        {"role": "user", "content": "老年人健康管理服务包括什么？"},
        {"role": "assistant", "content": "……"},
    ]
    proposed, got, _ = _moved_then_decided(library, "多久做一次？", history)
    assert proposed[0] == f"{RULES}:条款-10", proposed
    assert not got[0].startswith(f"{RULES}:"), got


def test_the_same_thing_is_the_same_subject_and_the_asked_kind(library):
    from types import SimpleNamespace as NS

    from assistant.intents import Intent

    def same(question: str, new: str, old: str, kinds=()) -> bool:
        result = NS(focus=question, query=question, intent=Intent(kinds=set(kinds)))
        return library.across.same(result, NS(id=new), NS(id=old), library.index)

    # who pays for orphans: the notice's 资金保障 says so for the plan's orphans' item…
    assert same("孤儿生活保障的资金由哪几级财政负担？", f"{NOTICE}:章节-三", "清单-56", ["funding"])
    # …not for boarding pupils' allowance, whose words it does not hold
    assert not same(
        "寄宿生生活补助的资金由哪几级财政负担？", f"{NOTICE}:章节-三", "清单-2", ["funding"]
    )
    # a row of new amounts does not say which unit leads; the plan's item does
    assert not same("孤儿养育保障由哪个部门牵头？", f"{NOTICE}:附件1-2", "清单-56", ["department"])
    # a word of the plan's vocabulary (机构集中养育的孤儿) is read as the words it is made of
    assert same("机构集中养育的孤儿每月多少钱？", f"{NOTICE}:章节-一（二）", "清单-56", ["amount"])


def test_a_chapter_heading_is_not_the_documents_subject(library):
    # the rules' chapter "第四章 申请与审批" heads five articles: 审批 in it says nothing about
    # which article, and is not what the whole document is about
    within = library.across.within(RULES, library.retriever)
    assert "审批" not in within.subject and "临时救助" in within.subject
    got = [c for c in ranked(library, "临时救助最后由谁审批？") if c.startswith(RULES)]
    assert got[0] in {f"{RULES}:条款-4", f"{RULES}:条款-13"}, got


def test_an_amount_stated_as_months_of_a_standard_answers_how_much(library):
    # the rules state amounts as multiples of the 低保 standard, in no 元: "how much" without a
    # unit is answered by the article that says how many months' worth
    question = "困难很大的家庭，临时救助最高可以给到多少？"
    got = [c for c in ranked(library, question) if c.startswith(RULES)]
    assert got[0] == f"{RULES}:条款-9", got
    within = library.across.within(RULES, library.retriever)
    assert within._states(f"{RULES}:条款-8", "金额")  # 不超过3个月的城乡最低生活保障标准
    assert not within._states(f"{RULES}:条款-16", "金额")
