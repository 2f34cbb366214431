"""The team's question sets: valid, unique, every key fact backed by a cited record."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.documents import DOMAINS
from assistant.questions import QuestionSetError, load_questions
from assistant.text import fold_for_facts

from .conftest import CORPUS  # noqa: F401 - keeps the corpus fixture module loaded

SETS = sorted((Path(__file__).parent.parent / "eval" / "questions").glob("*.jsonl"))
TYPES = {
    "amount",
    "eligibility",
    "funding",
    "department",
    "list",
    "indicator",
    "policy",
    "task",
    "document",
    "followup",
    "colloquial",
    "multi_item",
    "out_of_scope",
    "adversarial",
}


@pytest.mark.parametrize("path", SETS, ids=[p.name for p in SETS])
def test_key_facts_occur_in_cited_records(path, by_id):
    questions = load_questions(path, set(by_id))
    for q in questions:
        texts = [fold_for_facts(by_id[c].text + by_id[c].title) for c in q.citations]
        for fact in q.key_facts:
            assert any(fold_for_facts(fact) in t for t in texts), (q.id, fact)


def test_team_set_covers_the_plan(by_id):
    qs = load_questions(SETS[0], set(by_id))
    assert len(qs) >= 200
    types = Counter(q.type for q in qs)
    assert set(types) == TYPES
    assert types["followup"] >= 25 and all(q.history for q in qs if q.type == "followup")
    assert sum(not q.answerable for q in qs) >= 30
    cited = {c for q in qs for c in q.citations}
    domains = {by_id[c].domain for c in cited if by_id[c].kind == "item"}
    assert domains == set(DOMAINS)
    assert "专栏-1" in cited and any(c.startswith("分工-") for c in cited)


def test_malformed_line_is_named(tmp_path, by_id):
    good = {
        "id": "a",
        "question": "q",
        "answerable": True,
        "citations": ["清单-1"],
        "key_facts": [],
    }
    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps(good) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(QuestionSetError, match=r"q\.jsonl:2"):
        load_questions(p, set(by_id))


def test_unknown_citation_is_named(tmp_path, by_id):
    bad = {"id": "a", "question": "q", "answerable": True, "citations": ["清单-101"]}
    p = tmp_path / "q.jsonl"
    p.write_text("\n" + json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(QuestionSetError, match=r"q\.jsonl:2.*清单-101"):
        load_questions(p, set(by_id))


def test_duplicate_ids_and_extra_fields(tmp_path, by_id):
    row = {"id": "a", "question": "q", "answerable": False, "note": "extra fields are fine"}
    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert load_questions(p, set(by_id))[0].id == "a"
    p.write_text((json.dumps(row) + "\n") * 2, encoding="utf-8")
    with pytest.raises(QuestionSetError, match="duplicate"):
        load_questions(p, set(by_id))


def test_yi_that_begins_a_word_is_no_ids_number():
    from assistant.answer.numbers import arabic_ids

    assert arabic_ids("清单一共几个领域") == "清单一共几个领域"
    assert arabic_ids("专栏一直没更新吗") == "专栏一直没更新吗"
    assert arabic_ids("清单一项") == "清单1项" and arabic_ids("专栏十二") == "专栏12"
