"""Input hygiene, normalisation, aliases, tokens."""

from __future__ import annotations

import pytest

from assistant.text import (
    InputError,
    Tokenizer,
    expand_aliases,
    fold_for_facts,
    has_content,
    load_aliases,
    sanitize,
)

from .conftest import CORPUS


@pytest.mark.parametrize("raw", [None, "", "   ", "\n\t\u3000", "\x00\x01"])
def test_empty_input_is_a_clear_error(raw):
    with pytest.raises(InputError) as e:
        sanitize(raw, 500)
    assert "问题" in str(e.value)


def test_long_input_is_cut_with_a_notice():
    q = sanitize("孤儿" * 60_000, 500)
    assert len(q.text) == 500
    assert q.notices and "500" in q.notices[0]


def test_control_characters_and_bytes():
    assert sanitize("低保\x00标准\u200b？", 500).text == "低保标准？"
    assert sanitize("低保".encode(), 500).text == "低保"
    assert sanitize(b"\xff\xfe\x00abc", 500).text == "abc"
    with pytest.raises(InputError):
        sanitize(12345, 500)


def test_has_content():
    assert has_content("低保")
    assert has_content("abc 123")
    assert not has_content("😀😀🎉")
    assert not has_content("<b></b> ！？")


def test_fold_for_facts_matches_eval_format():
    assert fold_for_facts("１１２０ 元") == "1120元"
    assert fold_for_facts("学校（幼儿园）") == "学校(幼儿园)"


def test_aliases_are_general_vocabulary():
    aliases = load_aliases(CORPUS)
    assert len(aliases) >= 60
    for key in (
        "低保",
        "五保户",
        "残疾证",
        "医保",
        "社保卡",
        "廉租房",
        "两免一补",
        "新农合",
        "婚检",
        "下岗",
    ):
        assert key in aliases, key
    text, added = expand_aliases("我家是低保户，孩子上学有补助吗", aliases)
    assert "最低生活保障家庭" in added and all(t in text for t in added)
    assert expand_aliases("最低生活保障", aliases)[1] == []  # official terms are not re-added


def test_tokenizer_keeps_plan_names_whole():
    tok = Tokenizer(["孤儿养育保障", "市人力资源社会保障局"])
    tokens = tok.tokens("孤儿养育保障由市人力资源社会保障局负责吗？")
    assert "孤儿养育保障" in tokens and "市人力资源社会保障局" in tokens
    assert "吗" not in tokens and "？" not in tokens
