"""Questions about several items: items named one after another and asked about each, and a
group of people's items. Wording from none of the question sets."""

from __future__ import annotations

import re

import pytest

from assistant.intents import Intent


def _answer(service, question):
    ans = service.answer(question)
    assert ans.answered, ans.text
    return ans


def test_each_named_item_gets_the_asked_field_on_its_own_line(bm25_service):
    ans = _answer(bm25_service, "居民医保和职工医保，这两样的钱各由谁出？")
    assert set(ans.citations) == {"清单-23", "清单-21"}
    item = bm25_service.index.records
    # the 支出责任 of each, not the first item's alone
    assert item["清单-23"].funding[:12] in ans.text
    assert item["清单-21"].funding[:12] in ans.text
    assert ans.text.count("·支出责任〕") == 2


def test_named_items_are_told_apart_by_their_own_words(bm25_service):
    ans = _answer(bm25_service, "流浪乞讨人员跟流浪的未成年人，各归哪个部门管？")
    assert set(ans.citations) == {"清单-58", "清单-59"}
    assert "牵头负责单位" in ans.text


def test_a_quoted_phrase_with_a_list_in_it_is_not_several_items(bm25_service):
    question = "“医养结合、智慧养老”这两项是规划里哪部分说的？"
    assert bm25_service.composer._named_items(question, []) == []


def test_a_question_without_a_distributive_word_is_about_one_item(bm25_service):
    assert bm25_service.composer._named_items("婚前医学检查和孕前检查是一回事吗", []) == []


def test_a_group_of_people_gets_every_item_for_that_group(bm25_service):
    ans = _answer(bm25_service, "咱们老年人，政府都给提供哪些服务？")
    index = bm25_service.index
    for_group = {
        r.id for r in index.records.values() if getattr(r, "target", None) and "老年人" in r.target
    }
    assert len(for_group) >= 3
    assert set(ans.citations) <= for_group
    assert {"清单-32", "清单-53"} <= set(ans.citations)


@pytest.mark.parametrize(
    "question",
    ["农村留守儿童具体指哪些孩子？", "老年人健康管理都包括哪些内容？"],
)
def test_a_question_naming_more_than_the_group_is_not_a_group_list(bm25_service, question):
    assert bm25_service.composer._group_items(question) == []


def test_a_long_list_says_how_many_items_there_are(bm25_service):
    ans = _answer(bm25_service, "残疾人都能享受哪些服务？")
    total = sum(
        1
        for r in bm25_service.index.records.values()
        if getattr(r, "target", None) and "残疾人" in r.target
    )
    shown = len(ans.citations)
    assert total > shown
    assert f"有{total}项，以下是最相关的{shown}项" in ans.text


def test_a_part_asked_for_as_a_whole_lists_its_numbered_points(bm25_service):
    question = "这个规划的基本原则一共有哪几条？"
    comp = bm25_service.composer._compose(question, bm25_service.retriever.search(question))
    assert comp.citations == ["章节-二（二）"]
    for head in ("注重保障基本", "注重共建共享", "注重统筹兼顾", "注重改革创新"):
        assert head in comp.text
    assert comp.text.count("\n- ") == 4


def test_a_question_about_one_point_is_not_answered_with_the_list(bm25_service):
    question = "学前教育方面规划有哪些措施？"
    comp = bm25_service.composer._compose(question, bm25_service.retriever.search(question))
    assert comp.answered and not re.match(r"\*\*[^*]+\*\*共\d+条", comp.text)


def test_every_cited_item_is_a_source_to_open(bm25_service):
    ans = _answer(bm25_service, "残疾人都能享受哪些服务？")
    assert len(ans.citations) > 3
    assert set(ans.citations) <= {s.id for s in ans.sources}


def test_a_terse_lookup_naming_items_between_spaces_gets_each(bm25_service):
    ans = bm25_service.answer("失业保险 生育保险 支出责任")
    assert ans.answered and set(ans.citations) == {"清单-24", "清单-22"}
    assert ans.text.count("支出责任") >= 2


def test_a_terse_lookup_of_one_item_and_a_field_is_one_item(bm25_service):
    ans = bm25_service.answer("特困供养 对象")
    assert ans.answered and ans.citations == ["清单-49"]


def test_parts_of_a_named_box_are_not_read_as_items(bm25_service):
    ans = bm25_service.answer("专栏9里市级、县级的文化馆分别要达到什么等级？")
    assert ans.citations == ["专栏-9"] and "国家一级" in ans.text


@pytest.mark.parametrize(
    ("question", "several"),
    [
        ("孩子上学这块政府都管啥", True),
        ("失业了可享受哪些", True),
        ("创业相关的政策", True),
        ("老人体检管些啥", True),
        ("低保归哪个部门管", False),
        ("这个相关单位是谁", False),
    ],
)
def test_everyday_words_asking_for_several_services(question, several):
    from assistant.answer.asks import SEVERAL

    assert bool(SEVERAL.search(question)) is several


@pytest.mark.parametrize(
    ("question", "domain", "item"),
    [
        ("读书上学这方面政府管哪几样", "基本公共教育", "免费义务教育"),
        ("住房那块清单列了哪些", "基本住房保障", "公共租赁住房"),
    ],
)
def test_a_domain_named_in_everyday_words_lists_its_items(bm25_service, question, domain, item):
    box = next(r for r in bm25_service.index.records.values() if getattr(r, "directory", None))
    comp = bm25_service.composer._directory(box, Intent(), None, question)
    assert comp.text.startswith(f"**{domain}**") and item in comp.text


def test_the_list_as_a_whole_names_every_domain(bm25_service):
    box = next(r for r in bm25_service.index.records.values() if getattr(r, "directory", None))
    comp = bm25_service.composer._directory(box, Intent(), None, "清单分成哪10个领域")
    assert "基本公共教育" in comp.text and "残疾人基本公共服务" in comp.text


def test_terms_one_item_names_together_are_that_item_not_a_list(bm25_service):
    """ "普高 学费 减免": 普高 (普通高中) and 学费 are both in the name of 清单第7项, so the terse
    lookup asks about that one item, not 普通高中国家助学金 and 中职免学费 side by side; terms
    no single item names together still make a list."""
    assert bm25_service.index.expand("普高助学金")[0].count("普通高中") == 1
    ans = _answer(bm25_service, "普高 学费 减免")
    assert ans.citations == ["清单-7"]
    two = _answer(bm25_service, "工伤保险 生育保险 谁出钱")
    assert set(two.citations) == {"清单-22", "清单-25"}
