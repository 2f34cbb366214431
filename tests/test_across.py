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
    got = ranked(library, question)
    assert got[0] == f"{RULES}:{article}", got
    # a date is no duration: 第十九条 (2021年9月1日起施行) is no answer to 几天
    assert f"{RULES}:条款-19" not in got[:3], got


def test_a_notice_paragraph_comes_before_its_table_rows(library):
    # the rows of 附件1 hold 高龄津贴 in their group label, but no row is asked about: the
    # paragraph with all three amounts answers
    question = "不同年龄段的高龄老人，每月津贴各给多少钱？"
    assert ":附件1-" in ranked(library, question, within=False)[0]  # the old order: a row
    got = ranked(library, question)
    assert got[0] == f"{NOTICE}:章节-二（二）", got
    first_row = next(i for i, c in enumerate(got) if ":附件1-" in c or not c.startswith(NOTICE))
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
