"""`policyqa show`: cards, JSON, the list, exit codes."""

from __future__ import annotations

import json

from assistant.cli import main


def test_show_orphan_card(capsys):
    assert main(["show", "清单-56"]) == 0
    out = capsys.readouterr().out
    assert "孤儿养育保障" in out and "1120元" in out and "1410元" in out
    assert "市民政局、市财政局" in out
    assert "服务指导标准：" in out and "牵头负责单位：" in out


def test_show_accepts_loose_ids(capsys):
    assert main(["show", "清单第56项"]) == 0
    assert "孤儿养育保障" in capsys.readouterr().out
    assert main(["show", "章节-三(五)"]) == 0
    assert "基本社会服务" in capsys.readouterr().out


def test_show_json(capsys):
    assert main(["show", "分工-15", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "分工-15" and data["title"] and "财政局" in data["text"]
    assert data["units"].startswith("市发改委")


def test_show_list_json(capsys):
    assert main(["show", "--list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    ids = [r["id"] for r in rows]
    assert sum(i.startswith("清单-") for i in ids) == 100
    assert sum(i.startswith("分工-") for i in ids) == 28
    assert sum(i.startswith("专栏-") for i in ids) == 12
    assert "章节-序言" in ids and "章节-三（十）" in ids and "章节-四（四）" in ids
    assert all(r["title"] for r in rows)


def test_unknown_id_exits_2_with_suggestions(capsys):
    assert main(["show", "清单-101"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "清单-10" in err


def test_show_without_id_is_a_usage_error(capsys):
    assert main(["show"]) == 2
    assert "policyqa show" in capsys.readouterr().err
