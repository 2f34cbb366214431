"""A figure or a department the question asks to confirm, checked against what the answer
quotes. Wording from none of the question sets."""

from __future__ import annotations

import pytest

from assistant.answer import premise


@pytest.mark.parametrize(
    ("question", "claim"),
    [
        ("散居孤儿的生活费是每人每月八百元，对吧？", "八百元"),
        ("网上说普惠幼儿园的困难孩子一年资助三千元，是不是真的", "三千元"),
        ("孤儿养育保障是市人社局牵头，没错吧", "市人力资源社会保障局"),
    ],
)
def test_a_claim_the_evidence_does_not_hold_is_not_confirmed(bm25_service, question, claim):
    composer = bm25_service.composer
    card = composer._compose(question, bm25_service.retriever.search(question))
    assert card.answered  # the right record is found and would be shown as a yes
    checked = composer.check_premise(question, card)
    assert not checked.answered and checked.reason == "false_premise"
    assert claim in checked.text.split("\n")[0]
    assert checked.citations == card.citations  # what the plan does say, with its source
    assert card.text in checked.text
    assert composer.compose(question, bm25_service.retriever.search(question)) == checked
    assert not bm25_service.answer(question).answered


@pytest.mark.parametrize(
    "question",
    [
        "散居孤儿每人每月1120元，对吗？",
        "听说机构集中养育的孤儿每月一千四百一十元，是真的吗",
        "最低生活保障是市民政局牵头的吧？",
    ],
)
def test_a_claim_the_evidence_holds_is_answered(bm25_service, question):
    ans = bm25_service.answer(question)
    assert ans.answered and ans.reason != "false_premise", ans.text


def test_only_the_clauses_asking_to_confirm_are_claims():
    # the person's own age is their situation, not a claim about the plan
    clauses = premise.claim_clauses("我爸今年七十三了 听说老人体检不要钱 是不是真的")
    assert all("七十三" not in c for c in clauses)
    assert premise.claim_clauses("散居孤儿每月多少钱") == []


def test_references_and_words_are_not_figures():
    evidence = "为城乡困难居民提供基本殡葬服务。"
    for q in ("分工14是市公安局牵头吧", "老百姓去看戏是不是不要钱", "是不是几个部门一块儿管"):
        assert premise.unsupported(q, evidence, []) == [], q


def test_a_persons_own_age_is_not_a_claim_but_hearsay_is():
    evidence = "年满60周岁的农村计划生育家庭夫妇，按规定发放奖励扶助金。"
    assert premise.unsupported("俺62岁了是不是能领奖励扶助金", evidence, []) == []
    assert premise.unsupported("听说满55岁就能领，是吧", evidence, []) == ["55岁"]


def test_a_corrected_amount_still_carries_the_plans_date(bm25_service):
    ans = bm25_service.answer("散居孤儿每月生活费是八百元，对吧？")
    assert ans.reason == "false_premise" and "1120元" in ans.text
    assert "2016–2020年" in ans.text  # the period caveat follows the quoted standard


def test_a_round_sum_said_without_its_unit_is_a_claim():
    evidence = "我市社会散居的孤儿生活费每人每月1120元"
    assert premise.unsupported("听说散居孤儿一个月给两千，是真的吗", evidence, []) == ["两千"]
    assert premise.unsupported("听说一个月一千一百二，是吧", evidence, []) == []
    assert premise.unsupported("老百姓去是不是要钱", evidence, []) == []


def test_an_age_the_plan_is_said_to_state_is_a_claim_to_check():
    evidence = "年满60周岁、只生育一个子女或两个女孩的农村计划生育家庭夫妇"
    said = "文件里写的是年满55周岁的农村独生子女父母就能领，没错吧？"
    assert premise.unsupported(said, evidence, []) == ["55周岁"]
    own = "俺今年55岁了，只生了一个闺女，是不是能领？"  # the person's own age: not a claim
    assert premise.unsupported(own, evidence, []) == []


def test_a_claim_confirmed_mid_message_or_pointed_back_at_is_checked():
    evidence = "灾害发生后12小时内，受灾群众基本生活得到初步救助"
    pointed = "发大水以后二十四小时内救助要到位，规划是这么定的对不对？"
    assert premise.unsupported(pointed, evidence, []) == ["二十四小时"]
    units = ["市民政局", "市人力资源社会保障局"]
    tagged = "救灾是人社局管的吧 我打算明天过去"
    expand = lambda s: s.replace("人社局", "市人力资源社会保障局")  # noqa: E731
    assert premise.unsupported(tagged, "市民政局", units, expand) == ["市人力资源社会保障局"]
    assert premise.unsupported("12小时内能到位吧", evidence, []) == []


def test_a_count_of_kinds_grades_or_times_is_a_claim_to_check():
    evidence = (
        "开展四种基本遗传代谢性疾病筛查；为一级、二级重度残疾人提供护理补贴；每年提供1次随访。"
    )
    assert premise.unsupported("听说能免费查五种病，是不是", evidence, []) == ["五种"]
    assert premise.unsupported("四级残疾也给护理补贴吧", evidence, []) == ["四级"]
    assert premise.unsupported("一年随访三回对吧", evidence, []) == ["三回"]
    # the same counts in other notations are held
    assert premise.unsupported("查的是4种病吧", evidence, []) == []
    assert premise.unsupported("一年随访一次对吧", evidence, []) == []
    assert premise.unsupported("二级残疾也给护理补贴吧", evidence, []) == []


def test_an_age_said_as_a_threshold_is_a_claim():
    evidence = "每年为65岁及以上老年人提供1次健康管理服务"
    assert premise.unsupported("七十岁就能免费体检了吧", evidence, []) == ["七十岁"]
    assert premise.unsupported("六十五岁起就有体检吧", evidence, []) == []
    assert premise.unsupported("俺爹七十岁了，是不是能体检", evidence, []) == []


def test_hearsay_or_the_plans_word_is_a_claim_without_a_tag():
    evidence = "我市社会散居的孤儿生活费每人每月1120元"
    assert premise.unsupported("听说散居孤儿一个月给九百，俺侄子能领上不", evidence, []) == ["九百"]
    # a bare attribution introduces the clause after it
    assert premise.unsupported("照规划，散居孤儿每月一千五，啥时候发", evidence, []) == ["一千五"]
    # a figure said as the person's own, not the plan's or hearsay, is read only with a tag
    assert premise.unsupported("散居孤儿每月一千五，啥时候发", evidence, []) == []
    # the figure the plan does hold, and a clause that itself asks, are no claims
    assert premise.unsupported("听说散居孤儿每月一千一百二十块，俺侄子能领上不", evidence, []) == []
    assert premise.unsupported("规划里说散居孤儿一个月能有几百块？", evidence, []) == []


def test_untagged_hearsay_is_not_read_for_departments():
    # two versions reported and the question asks openly: who leads is what is asked
    q = "俺说是民政局管，俺兄弟非说是人社局管，到底归谁？"
    expand = lambda s: s.replace("人社局", "市人力资源社会保障局")  # noqa: E731
    units = ["市民政局", "市人力资源社会保障局"]
    assert premise.unsupported(q, "牵头负责单位：市民政局", units, expand) == []


def test_approximate_sums_levels_and_together_are_no_figures():
    evidence = "县级图书馆不少于30次；基础养老金不低于每人每月110元"
    assert premise.unsupported("俺娘说是一个月领一百来块，对吧", evidence, []) == []
    assert premise.unsupported("县一级的图书馆一年办讲座是吧", evidence, []) == []
    assert premise.unsupported("几个县一块办讲座，是吧", evidence, []) == []


def test_half_and_tenths_are_shares():
    evidence = "政府补助比例提高10个百分点；留用率达到70%以上"
    assert premise.unsupported("留用率过一半就多补，对吧", evidence, []) == ["一半"]
    assert premise.unsupported("留用率七成以上就多补，对吧", evidence, []) == []


@pytest.mark.parametrize(
    ("question", "claim"),
    [
        ("婚前检查是工会组织的吧", "工会"),
        ("婚前检查的钱是省里出的，对吧？", "省里出的"),
        ("婚前检查都是国家掏钱的吧", "国家掏钱"),
    ],
)
def test_an_office_or_payer_the_record_does_not_name_is_not_confirmed(question, claim):
    evidence = "服务项目：婚前医学检查\n支出责任：县区政府负责。\n牵头负责单位：市卫生计生委"
    assert premise.unsupported(question, evidence, ["市卫生计生委"]) == [claim]


def test_a_payer_the_record_names_is_confirmed():
    evidence = "支出责任：市、县区政府负责，省级财政适当补助。"
    for q in ("这个钱是市里出的吧", "是区里掏钱对吧", "是省里给的钱吧"):
        assert premise.unsupported(q, evidence, []) == [], q
    # a section states no payer: nothing to hold a payer against
    assert premise.unsupported("这是市里出钱吧", "完善基本公共服务体系", []) == []


def test_a_wrong_payer_is_corrected_on_the_answer(bm25_service):
    ans = bm25_service.answer("免费婚前医学检查的钱都是省里出的，没错吧")
    assert not ans.answered and ans.reason == "false_premise", ans.text
    assert "县区政府负责" in ans.text and "清单-41" in ans.citations


def test_counts_of_places_and_people_are_claims_to_check():
    evidence = "每个镇（街道）办好1所标准化建设的卫生院；到2020年，每万人口全科医生数达到2名。"
    assert premise.unsupported("规划要求每个镇办好三所卫生院，咋俺镇就一所", evidence, []) == [
        "三所"
    ]
    assert premise.unsupported("每万人口全科医生要有4名，是不是", evidence, []) == ["4名"]
    # the figure held, and the base of a rate, are no false claims
    assert premise.unsupported("每万人口全科医生两名，对吧", evidence, []) == []
    table = "护理型床位（张）（基本社会服务），2015年：12，2020年：35"
    assert premise.unsupported("到二〇二〇年护理型床位是35张吧", table, []) == []


def test_several_payers_named_together_are_each_checked():
    evidence = "支出责任：县区政府负责。"
    said = "这项奖励扶助由省、市、县区三级财政分担，对吗？"
    assert premise.unsupported(said, evidence, []) == ["省、市、县区三级财政分担"]
    assert premise.unsupported("是县区政府负担的吧", evidence, []) == []
    # who must pay, said of the person
    assert premise.unsupported(
        "听说职工自己也得交一份钱，是不是", "支出责任：用人单位缴费。", []
    ) == ["自己也得交一份钱"]


@pytest.mark.parametrize(
    ("question", "claim"),
    [
        ("分工12 贫困人口 就扶贫办一家牵头吧", "一家牵头"),
        ("第十二项重点任务仅扶贫办牵头？", "仅扶贫办牵头"),
    ],
)
def test_one_unit_said_to_lead_alone_where_several_lead(question, claim):
    evidence = "责任单位：市扶贫办、发改委、教育局分别牵头，其他有关部门按职责分工负责。"
    assert premise.unsupported(question, evidence, ["市扶贫办"]) == [claim]
    # the one asked about, named as leading, is no claim that it leads alone
    assert premise.unsupported("扶贫那条就扶贫办管吧", evidence, ["市扶贫办"]) == []


def test_a_statement_said_with_a_rising_tone_or_tersely_is_a_claim():
    evidence = "责任单位：市文化广电新闻出版局、体育局分别牵头"
    units = ["市文化广电新闻出版局", "市体育局", "市教育局"]
    assert premise.tagged("分工8 文化体育 教育局牵头?")
    assert premise.unsupported("分工8 文化体育 教育局牵头?", evidence, units) == ["市教育局"]
    assert premise.unsupported("分工8 体育局牵头", evidence, units) == []
    # a terse lookup that asks, a choice, a lookup of figures and a story are no statements
    for q in (
        "分工8 谁牵头?",
        "文化体育那条任务归哪个局",
        "是体育局还是教育局牵头",
        "体育局管不管群众健身？",
        "高中阶段毛入学率 15年 20年",
        "俺爹今年七十五了？",
    ):
        assert not premise.tagged(q), q
    assert premise.unsupported("毛入学率 2015 85%", "2015年：92%", []) == []


def test_a_record_name_given_to_another_number_is_not_confirmed():
    evidence = "序号：48\n服务项目：最低生活保障"
    titles = ("孤儿养育保障", "最低生活保障")
    said = "清单第四十八项是孤儿养育保障，对吧"
    assert premise.unsupported(said, evidence, [], titles=titles) == ["孤儿养育保障"]
    right = "清单第四十八项是最低生活保障，对吧"
    assert premise.unsupported(right, evidence, [], titles=titles) == []


def test_a_corrected_office_or_payer_quotes_the_items_own_field(bm25_service):
    ans = bm25_service.answer("散居孤儿的生活费是工会发的吧")
    assert ans.reason == "false_premise" and "工会" in ans.text.split("\n")[0]
    assert "**牵头负责单位**：市民政局" in ans.text  # who does lead, quoted with its source
    paid = bm25_service.answer("散居孤儿的生活费是国家掏钱的吧")
    assert paid.reason == "false_premise" and "**支出责任**：由市、县区政府财政承担" in paid.text
