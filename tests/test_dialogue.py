"""Dialogue state from plain-text turns: a chat client may send back an earlier answer without
its citation IDs, or a summary of it; the subject still carries over. Wording from none of the
question sets."""

from __future__ import annotations


def test_a_plain_text_answer_names_the_record_it_repeats(bm25_service):
    index = bm25_service.index
    assert index.quoted("散居的孤儿，每人每个月的基本生活费是1120元。") == ["清单-56"]
    assert index.quoted("好的，还有别的问题吗？") == []


def test_a_follow_up_after_a_plain_text_answer_stays_on_its_subject(bm25_service):
    history = [
        {"role": "user", "content": "闺女上幼儿园，家里困难，有补助没"},
        {
            "role": "assistant",
            "content": "有。普惠性幼儿园家庭经济困难儿童可以享受政府助学金，平均每生每年1200元。",
        },
    ]
    turn = bm25_service.retriever.understand("这一档最多能到多少钱？", history)
    assert turn.followup and turn.prior[:1] == ["清单-3"]
    hits = bm25_service.search("这一档最多能到多少钱？", k=3, history=history)
    assert hits[0].id == "清单-3"


def test_a_new_subject_after_a_plain_text_answer_is_its_own_question(bm25_service):
    history = [
        {"role": "user", "content": "散居孤儿一个月多少钱"},
        {"role": "assistant", "content": "散居孤儿基本生活费每人每月1120元。"},
    ]
    hits = bm25_service.search("高龄津贴由哪个部门牵头负责？", k=3, history=history)
    assert hits[0].id == "清单-53"


def test_a_short_unrelated_turn_after_a_conversation_is_not_a_follow_up(service):
    history = [
        {"role": "user", "content": "家里老人八十多了，政府有没有啥补贴"},
        {"role": "assistant", "content": "80周岁以上老年人可以领取高龄津贴。"},
    ]
    # a short turn used to be taken as a follow-up whatever it said, and was answered with the
    # previous subject; its own nearest training questions say it is about nothing in the plan
    for turn in ("这周末天气咋样", "zxcvbn"):
        followup = service.retriever.understand(turn, history).followup
        assert not followup, turn
        ans = service.answer(turn, history)
        assert not ans.answered, turn
    # a short turn that asks about what was just said still is one
    followup = service.retriever.understand("归哪个单位管？", history).followup
    assert followup
    ans = service.answer("归哪个单位管？", history)
    assert ans.answered and ans.citations[:1] == ["清单-53"] and "民政" in ans.text


def test_a_bare_ordinal_after_a_task_means_that_list(bm25_service):
    history = [
        {"role": "user", "content": "任务分工第3项是谁牵头"},
        {"role": "assistant", "content": "这一项由有关部门牵头负责。"},
    ]
    ans = bm25_service.answer("那第20项呢？", history)
    assert ans.citations[:1] == ["分工-20"]
    # without a list named earlier, 第20项 is the service list's
    assert bm25_service.answer("第20项呢？").citations[:1] == ["清单-20"]


def test_a_follow_up_picks_the_group_it_names_in_its_own_words(bm25_service):
    history = [
        {"role": "user", "content": "困难家庭住宿的小学生，一年补多少生活费"},
        {"role": "assistant", "content": "寄宿小学生每生每年1000元。"},
    ]
    ans = bm25_service.answer("那走读的呢？", history)
    assert ans.citations[:1] == ["清单-2"]
    assert "800元" in ans.text and "1000元" not in ans.text


def _said(question: str, answer: str) -> list[dict]:
    """A conversation so far: one question and the assistant's plain-text answer."""
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def test_a_follow_up_naming_another_indicator_gets_that_row(service):
    # the earlier question's words (基本, 参保, 人数) fit the old row better: the new word decides
    history = _said("基本养老保险参保人数目标多少", "规划的发展指标表里有这个数。")
    ans = service.answer("医疗的呢", history)
    assert ans.answered and "专栏-1" in [s.id for s in ans.sources]
    assert "基本医疗保险参保人数" in ans.text and "基本养老保险参保人数" not in ans.text


def test_a_follow_up_naming_no_indicator_keeps_the_row_of_the_conversation(bm25_service):
    history = _said("高中阶段毛入学率的目标是多少", "规划的发展指标表里写了这个比例。")
    ans = bm25_service.answer("那2015年的基数呢", history)
    assert ans.answered and "高中阶段教育毛入学率" in ans.text


def test_a_follow_up_asking_who_carries_out_the_domain_gets_its_task(bm25_service):
    # the earlier turn is about an item of 基本住房保障; 附件2 has one task per domain
    history = _said("农村危房改造补助给哪些家庭", "居住在危房中的建档立卡贫困户、低保户等贫困户。")
    ans = bm25_service.answer("那这个领域的重点任务归哪个部门牵头？", history)
    assert ans.answered and ans.citations == ["分工-7"]
    assert "市住房保障管理局" in ans.text


def test_a_follow_up_about_the_item_itself_keeps_the_item(bm25_service):
    history = _said("农村危房改造补助给哪些家庭", "居住在危房中的建档立卡贫困户、低保户等贫困户。")
    ans = bm25_service.answer("这个谁牵头负责？", history)
    assert ans.answered and ans.citations == ["清单-66"]


def test_a_follow_up_naming_a_sibling_item_moves_to_it(service):
    # the earlier answer cites the 城镇 item; "农村" in the new turn names the other one
    history = _said(
        "城镇独生子女父母年老奖励扶助多大岁数能领",
        "年满60周岁的城镇其他居民中独生子女父母（清单第47项）。",
    )
    ans = service.answer("农村户口的那个奖励扶助呢", history)
    assert ans.answered and ans.citations == ["清单-45"]


def test_a_topic_said_first_with_zhe_kuai_is_its_own_question(bm25_service):
    """A topic said first ("孩子上学这块…") names what it asks about; a bare "这块…" points back."""
    history = [
        {"role": "user", "content": "孤儿的生活费每月多少"},
        {"role": "assistant", "content": "散居孤儿每人每月1120元。"},
    ]
    followup = bm25_service.retriever.understand("孩子上学这块政府都管啥", history).followup
    assert not followup
    followup = bm25_service.retriever.understand("这块谁出钱", history).followup
    assert followup


def test_a_turn_is_understood_once_with_its_subject_its_ask_and_the_situation(bm25_service):
    retriever = bm25_service.retriever
    history = [
        {"role": "user", "content": "重度残疾人的护理补贴都发给谁啊"},
        {"role": "assistant", "content": "按清单第91项，护理补贴发给一级、二级重度残疾人。"},
    ]
    turn = retriever.understand("那这笔钱是谁出呢", history)
    assert turn.followup and turn.previous == "重度残疾人的护理补贴都发给谁啊"
    assert turn.prior[:1] == ["清单-91"] and turn.cited == ["清单-91"]
    assert turn.query.startswith("那这笔钱是谁出呢") and "护理补贴" in turn.query
    # the same answer as plain text still names its subject, cited by nobody
    plain = [history[0], {"role": "assistant", "content": "为一级、二级重度残疾人提供护理补贴。"}]
    turn = retriever.understand("那这笔钱是谁出呢", plain)
    assert turn.prior[:1] == ["清单-91"] and turn.cited == []
    # a story: the clause that asks, apart from the situation told before it
    story = "俺家在村里，老伴前年走了，俺一个人拉扯孙子，孙子今年考上高中了，学费能免不"
    turn = retriever.understand(story)
    assert not turn.followup and turn.ask == "学费能免不"
    assert "老伴前年走了" in turn.situation and "学费" not in turn.situation
    # the composer reads the turn the search resolved, not the history
    result = retriever.search("那这笔钱是谁出呢", history)
    assert result.turn.followup and result.turn.prior[:1] == ["清单-91"]
    comp = bm25_service.composer.compose("那这笔钱是谁出呢", result)
    assert comp.citations[:1] == ["清单-91"] and "支出责任" in comp.text
    # and keeps nothing of it: answers run concurrently
    assert bm25_service.composer._context == [] and not bm25_service.composer._inherited


def test_a_pronoun_with_nothing_in_its_turn_to_stand_for_points_back(bm25_service):
    retriever = bm25_service.retriever
    history = [
        {"role": "user", "content": "农村留守儿童指的是哪些孩子"},
        {
            "role": "assistant",
            "content": "父母双方外出务工或一方外出务工、另一方无监护能力，不满16周岁的农村户籍未成年人。",
        },
    ]
    question = "平时谁去关照他们，归哪个部门管"
    assert retriever.understand(question, history).followup
    assert retriever.search(question, history, k=3).hits[0].id == "清单-55"
    # 其他 and 尤其 are no pronouns; without a conversation nothing points back
    for own in ("城里其他孩子也算留守儿童吗", "尤其是农村的老人，平时有啥补贴"):
        assert not retriever.understand(own, history).followup, own
    assert not retriever.understand(question).followup


def test_a_longer_unmarked_turn_naming_nothing_new_stays_on_the_subject(bm25_service):
    """No 那/呢/这个, more than a few words: when every plan word of the turn is in the record
    the conversation is on, it asks about that record; a turn naming something the record lacks
    is its own question."""
    history = [
        {"role": "user", "content": "读普高家里困难有助学金吗"},
        {"role": "assistant", "content": "有，普通高中国家助学金平均每生每年2000元，分三档发放。"},
    ]
    retriever = bm25_service.retriever
    q = "资助面有多大，多少学生能领"
    assert bm25_service.search(q, k=1)[0].id != "清单-6"  # alone it finds another grant
    assert retriever.understand(q, history).followup
    assert bm25_service.search(q, k=1, history=history)[0].id == "清单-6"
    other = "高龄津贴归哪个部门管"
    assert not retriever.understand(other, history).followup
    assert bm25_service.search(other, k=1, history=history)[0].id == "清单-53"


def test_a_topic_said_first_is_its_own_question_though_the_record_holds_its_words(bm25_service):
    """ "教育这块的任务…" says what it is about: not the item before, whose text says 教育 too."""
    history = [
        {"role": "user", "content": "残疾学生上学有啥补助"},
        {"role": "assistant", "content": "清单-97：残疾学生享受12年免费教育。"},
    ]
    q = "教育这块的任务谁牵头"
    assert not bm25_service.retriever.understand(q, history).followup
    assert bm25_service.search(q, k=1, history=history)[0].id == "分工-2"


def test_a_demonstrative_with_a_number_points_back(bm25_service):
    turn = bm25_service.retriever.understand(
        "这两档分别是多少钱",
        [
            {"role": "user", "content": "普通高中国家助学金"},
            {"role": "assistant", "content": "分三档。"},
        ],
    )
    assert turn.followup


def test_an_off_topic_follow_up_is_judged_on_its_own_words(service):
    """ "那…" after a turn about a service is a follow-up in form; whether it asks about the plan at
    all is what its own words' nearest training questions say, not the earlier turn's."""
    history = [
        {"role": "user", "content": "残疾人托养服务是给谁的"},
        {"role": "assistant", "content": "就业年龄段的智力、精神和重度肢体残疾人。"},
    ]
    off = service.answer("那明天会降温吗", history)
    assert not off.answered and not off.citations
    on = service.answer("那经费由谁来承担", history)
    assert on.answered and on.citations[:1] == ["清单-95"]
