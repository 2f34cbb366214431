"""The parser: every record, every field, no PDF noise, no lost content."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from assistant.documents import (
    DOMAINS,
    ID_PATTERN,
    Box,
    PlanMeta,
    Section,
    ServiceItem,
    cjk_only,
    clean_text,
    parse_plan,
)

from .conftest import SOURCE


def test_record_counts(plan):
    kinds = Counter(r.kind for r in plan.records)
    assert kinds["item"] == 100
    assert kinds["task"] == 28
    assert kinds["box"] == 12
    ids = [r.id for r in plan.records]
    assert len(ids) == len(set(ids))
    assert {f"清单-{n}" for n in range(1, 101)} <= set(ids)
    assert {f"分工-{n}" for n in range(1, 29)} <= set(ids)
    assert {f"专栏-{n}" for n in range(1, 13)} <= set(ids)
    assert all(ID_PATTERN.match(i) for i in ids), [i for i in ids if not ID_PATTERN.match(i)]


def test_sections_are_complete(plan):
    keys = [r.key for r in plan.records if isinstance(r, Section)]
    expected = [
        "序言",
        "一",
        "一（一）",
        "一（二）",
        "二",
        "二（一）",
        "二（二）",
        "二（三）",
        "二（四）",
        "三",
    ]
    expected += [f"三（{n}）" for n in "一二三四五六七八九十"]
    expected += ["四", "四（一）", "四（二）", "四（三）", "四（四）"]
    assert keys == expected


def test_every_item_has_six_fields_and_a_domain(plan):
    items = [r for r in plan.records if isinstance(r, ServiceItem)]
    assert [i.number for i in items] == list(range(1, 101))
    for it in items:
        for field in (it.name, it.target, it.standard, it.funding, it.lead):
            assert field.strip(), f"{it.id} has an empty field"
        assert it.domain in DOMAINS
    per_domain = Counter(i.domain for i in items)
    assert per_domain == {
        "基本公共教育": 8,
        "基本劳动就业创业": 10,
        "基本社会保险": 7,
        "基本医疗卫生": 22,
        "基本社会服务": 16,
        "基本住房保障": 3,
        "基本公共文化体育": 13,
        "基本公共安全": 7,
        "基本公共法律服务": 4,
        "残疾人基本公共服务": 10,
    }


def test_item_2_rows_stay_paired(by_id):
    it = by_id["清单-2"]
    assert len(it.rows) == 2
    boarding, day = it.rows
    assert "寄宿生" in boarding.target and "非寄宿" not in boarding.target
    assert "1000元" in boarding.standard and "1300元" in boarding.standard
    assert boarding.funding.startswith("省、市、县区")
    assert "非寄宿生" in day.target
    assert "800元" in day.standard and "1000" not in day.standard
    assert day.funding.startswith("市、县区")
    assert it.lead == "市财政局、市教育局"


def test_item_5_two_groups_with_their_standards(by_id):
    it = by_id["清单-5"]
    assert len(it.rows) == 2
    public, private = it.rows
    assert public.target.startswith("公办中等职业学校") and public.standard == "免学费。"
    assert "民办中等职业学校" in private.target and "补助" in private.standard


def test_orphan_item_card_fields(by_id):
    it = by_id["清单-56"]
    assert it.name == "孤儿养育保障"
    assert "1120元" in it.standard and "1410元" in it.standard
    assert it.lead == "市民政局、市财政局"
    assert it.readable == "清单第56项「孤儿养育保障」"


def test_box1_indicators_with_notes(by_id):
    box = by_id["专栏-1"]
    assert isinstance(box, Box)
    assert len(box.indicators) == 30
    names = {i.name: i for i in box.indicators}
    life = names["人均预期寿命（岁）"]
    assert (life.value_2015, life.target_2020, life.domain) == ("79.71", "81", "基本医疗卫生")
    jobs = names["城镇新增就业人数（万人）"]
    assert jobs.cumulative == "50" and jobs.note and "自然减员" in jobs.note
    assert sum(1 for i in box.indicators if i.note) == 7
    assert {i.domain for i in box.indicators} == set(DOMAINS)


def test_box2_directory_and_other_boxes(by_id):
    box2 = by_id["专栏-2"]
    assert [d.count for d in box2.directory[:10]] == [
        "8",
        "10",
        "7",
        "22",
        "16",
        "3",
        "13",
        "7",
        "4",
        "10",
    ]
    assert by_id["专栏-7"].title == "基本社会服务重点工程"
    assert by_id["专栏-7"].section == "章节-三（五）"
    names = [r.name for r in by_id["专栏-12"].rows]
    assert "残疾人服务专业人才培养" in names  # a name wrapped over three lines, rejoined


def test_tasks(by_id):
    t = by_id["分工-15"]
    assert "缩小城乡基本公共服务差距" in t.task
    assert t.units.startswith("市发改委、财政局牵头")
    assert by_id["分工-28"].units.startswith("市发改委牵头")


def test_preface_holds_the_notice(by_id):
    text = by_id["章节-序言"].text
    for fact in ("济政发〔2018〕5号", "2018年3月15日", "各县区人民政府", "制定本规划"):
        assert fact in text


def test_paragraph_titles(by_id):
    titles = [p.title for p in by_id["章节-三（一）"].paragraphs]
    assert titles[:5] == ["基本公共教育", "义务教育", "高中阶段教育", "普惠性学前教育", "继续教育"]
    assert by_id["章节-三（五）"].domain == "基本社会服务"


def test_page_breaks_rejoined(by_id):
    text = by_id["章节-一（一）"].text
    assert "学前教育加快普及" in text
    assert "度、城镇其他居民独生子女父母年老奖励扶助制度" in by_id["章节-三（四）"].text
    # the page-top repetition "接。" after "…统一衔接。" is dropped, the sentence kept
    assert "统一衔接。将社会事业" in by_id["章节-四（一）"].text.replace("\n", "")
    assert "\n接。" not in by_id["章节-四（一）"].text


NOISE = re.compile(
    r"<p>|</p>|-{3,}|序号\s*服务项目|领域\W+服务项目\W+数量|重\s点\s任\s务|指\s标|抄送|\t"
)


def test_no_noise_left_in_any_record(plan):
    for rec in plan.records:
        blob = rec.model_dump_json() + rec.text
        assert not NOISE.search(blob.replace("\\t", "\t")), rec.id


def _heading_number(fragment: str) -> str:
    return re.sub(
        r"^(?:[（(]\s*[一二三四五六七八九十]+\s*[）)]|[一二三四五六七八九十]、)", "", fragment
    )


def test_content_coverage(plan):
    """Every CJK character of the source, noise aside, is found in the records (in order, per cell)."""
    haystack = "|".join(
        cjk_only(x) for r in plan.records for x in [r.title, r.text, r.model_dump_json()]
    )
    noise = {n.strip() for n in plan.removed_noise}
    total = covered = 0
    missing = []
    for line in SOURCE.read_text(encoding="utf-8").splitlines():
        if line.strip() in noise or line.strip().startswith("抄送"):
            continue
        for frag in re.split(r"[\t ]+", line):
            chars = cjk_only(_heading_number(frag))
            total += len(chars)
            if chars in haystack:
                covered += len(chars)
            elif chars:
                missing.append(frag)
    coverage = covered / total
    # measured 36,032 of 36,032 (100 %): the page-top repetition "接。" is dropped from the
    # paragraph, its character survives in the "…衔接。" before it; the 抄送 footer is noise.
    assert coverage >= 0.995, (coverage, missing[:10])
    assert missing == [], missing


def test_clean_text():
    assert clean_text("每生每年 1000 元, 具体") == "每生每年1000元，具体"
    assert clean_text("<p>实施乡村教师支持计划。</p>") == "实施乡村教师支持计划。"
    assert clean_text("Ⅱ型糖尿病 (T2D) 患者") == "Ⅱ型糖尿病（T2D）患者"


def test_parser_rejects_unexpected_annex_text():
    meta = PlanMeta(
        id="x", text="x.txt", title="t", doc_number="n", issued="d", period="p", issuer="i"
    )
    raw = "一、规划背景\n\n附件 1\n\n序号\t服务项目\t服务对象\t服务指导标准\t支出责任\t牵头负责单位\n这行不属于表格\n"
    with pytest.raises(ValueError, match="line"):
        parse_plan(raw, meta)
