"""The kind of figure asked for and whether the cited records state one. Wording from none of
the question sets."""

from __future__ import annotations

import pytest

from assistant.answer import detail


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("工伤职工停工留薪最长多久", "期限"),
        ("糖尿病人社区每年随访多少回", "次数"),
        ("门诊报销能报几成", "比例"),
        ("重度残疾人护理补贴每月多少钱", "金额"),
        ("低保由哪个部门负责", None),
        ("救助金额超过12个月低保标准要怎么办", None),
    ],
)
def test_the_kind_of_figure_asked_for(question, kind):
    assert detail.asked(question) == kind


def test_a_record_holds_a_figure_of_the_asked_kind_or_not():
    assert detail.holds("每年为65岁及以上老年人提供1次健康管理服务", "次数")
    assert not detail.holds("提供登记管理、健康指导、定期随访和体格检查服务", "次数")
    assert detail.holds("人工服务达到5×8小时", "期限")
    assert not detail.holds("规范管理率均达到75%以上", "金额")
    assert detail.holds("规范管理率均达到75%以上", "比例")


def test_an_answer_without_the_asked_detail_says_so_and_quotes(bm25_service):
    composer = bm25_service.composer
    question = "高血压患者社区医生一年随访多少次？"
    card = composer._compose(question, bm25_service.retriever.search(question))
    assert card.answered and card.citations[:1] == ["清单-33"]
    checked = composer.check_detail(question, card)
    assert not checked.answered and checked.reason == "no_detail"
    assert checked.text.startswith("所引原文没有写明具体的次数")
    assert card.text in checked.text and checked.citations == card.citations


def test_an_answer_with_the_asked_detail_stands(bm25_service):
    composer = bm25_service.composer
    question = "65岁以上老人的健康管理服务一年提供几次？"
    card = composer._compose(question, bm25_service.retriever.search(question))
    assert card.answered and "清单-32" in card.citations
    assert composer.check_detail(question, card) == card


def test_only_the_asking_sentences_count():
    story = "孩子出生第三天护士来采了血，还说几天后出结果。这个筛查收不收费？"
    assert detail.asked(story) is None
    assert detail.asked("俺家房子是八几年盖的，危房改造能帮着修不？") is None
    assert detail.asked("好几个月没收入了，这段时间工资谁发？") is None
    assert detail.asked("这笔救助金能领几个月？") == "期限"


def test_rates_and_multiples_count_as_their_kind():
    assert detail.holds("孕产妇死亡率（1/10万） 2015年：5.93", "比例")
    assert detail.holds("国产新片比例不少于1/3", "比例")
    assert detail.holds("最高支付限额为居民人均可支配收入的8倍以上", "金额")


def _first(result, cid: str):
    """The search result with one record moved to the front, its evidence equal to the old first."""
    hits = {h.id: h for h in result.hits}
    front = hits.pop(cid)
    front.evidence = max(front.evidence, result.hits[0].evidence)
    result.hits = [front, *hits.values()]
    return result


def test_a_source_ranked_just_after_answers_when_it_states_the_asked_detail(bm25_service):
    # the box names the plan without its years; the section it belongs to gives them
    question = "第二期特殊教育提升计划实施期限是几年？"
    result = _first(bm25_service.retriever.search(question), "专栏-12")
    assert "章节-三（十）" in [h.id for h in result.hits[1:3]]
    comp = bm25_service.composer.compose(question, result)
    assert comp.answered and comp.citations == ["章节-三（十）"]
    assert "2017—2020年" in comp.text


def test_the_first_source_stays_when_none_after_it_states_the_detail(bm25_service):
    question = "高血压患者社区医生一年随访多少次？"
    result = bm25_service.retriever.search(question)
    comp = bm25_service.composer.compose(question, result)
    assert not comp.answered and comp.reason == "no_detail"
    assert comp.citations[:1] == ["清单-33"]


def test_free_of_charge_answers_how_much_it_costs():
    assert detail.holds("为残疾儿童、青少年提供15年免费教育", "金额")
    assert detail.holds("对城乡所有义务教育学生免除学杂费", "金额")
    assert not detail.holds("为救助对象发放临时救助金", "金额")


@pytest.mark.parametrize(
    "question",
    [
        "养老补贴咋申请",
        "办残疾证要带啥材料",
        "临时救助去哪儿申请啊",
        "公租房申请在哪办",
        "住院了具体咋报",
    ],
)
def test_how_to_apply_is_a_detail_asked_for(question):
    assert detail.asked(question) == "办理流程"


@pytest.mark.parametrize("question", ["家里遭了灾咋办", "申请了以后每月给多少钱", "这事归哪个局管"])
def test_what_to_do_or_a_figure_is_no_procedure_ask(question):
    assert detail.asked(question) != "办理流程"


def test_a_record_states_a_procedure_only_with_its_steps():
    assert detail.holds("经县级民政部门审核后发放", "办理流程")
    assert detail.holds("由本人向户籍所在地乡镇人民政府提出申请", "办理流程")
    assert not detail.holds("建立完善老年人高龄津贴、护理补贴、服务补贴制度", "办理流程")


def test_an_item_asked_how_to_apply_for_quotes_it_and_is_no_answer(bm25_service):
    ans = bm25_service.answer("孤儿的生活费要准备哪些材料去申请？")
    assert not ans.answered and ans.reason == "no_detail"
    assert ans.text.startswith("所引原文没有写明具体的办理流程")
    assert "1120元" in ans.text  # what the plan does say, still quoted and cited


def test_paid_by_the_month_states_how_often():
    assert detail.holds("生活补助按月发放", "期限")
    assert not detail.holds("生活补助及时发放", "期限")


def test_a_sum_given_is_an_amount_and_a_standard_set_against_another_answers_it():
    assert detail.asked("这个补助一年能领多少") == "金额"
    assert detail.asked("最多能贷多少") == "金额"
    assert detail.asked("一共给多少人") is None  # a count of people, no sum
    assert detail.holds("救助金不低于当地最低生活保障标准", "金额")
    assert detail.holds("按低于当地保障标准的差额按月发给", "金额")
    assert not detail.holds("发放一定数额的补助金，并实行补助标准动态调整", "金额")


@pytest.mark.parametrize(
    "question",
    [
        "截止到上个月，全市护理型床位实际占了几成？",
        "五年下来城乡居民医保参保率最后达到了没有",
        "咱市眼下一共有几所特殊教育学校",
        "孕产妇死亡率现在降到多少了",
        "公共法律服务中心到现在建成几个了？",
    ],
)
def test_what_was_achieved_or_is_the_case_now_is_asked(question):
    assert detail.asks_actual(question)


@pytest.mark.parametrize(
    "question",
    [
        "护理型床位要占到多少？",  # the target
        "2015年城镇登记失业率实际是多少",  # the plan reports its base year
        "现在低保标准一个月多少钱",  # the standard, asked in today's words
        "俺家已经办了残疾证。能领护理补贴不？",  # done by the person, told before the ask
        "俺娘今年七十好几了，高龄津贴有没有她的份",  # an age told, not a figure asked
    ],
)
def test_a_target_a_base_year_or_a_story_is_no_actual_ask(question):
    assert not detail.asks_actual(question)


def test_an_actual_figure_is_answered_with_the_target_and_not_counted(bm25_service):
    q = "规划里的每千名老年人养老床位数，截至去年实际达到多少张了？"
    ans = bm25_service.answer(q)
    assert not ans.answered and ans.reason == "actual_figure", ans.text
    first = ans.text.split("\n")[0]
    assert "没有实际完成" in first and "12345" in first
    assert ans.citations  # the plan's target, quoted with its source
