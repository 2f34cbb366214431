"""`policyqa show`: cards, JSON, the list, exit codes."""

from __future__ import annotations

import json

import pytest

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


@pytest.fixture
def cli_service(bm25_service, monkeypatch):
    import assistant.service as svc

    monkeypatch.setattr(svc, "_service", bm25_service)
    return bm25_service


def test_search_json_and_text(cli_service, capsys):
    assert main(["search", "孤儿养育保障", "--k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["id"] == "清单-56" and len(hits) == 3 and "score" in hits[0]
    assert main(["search", "婚检"]) == 0
    assert "[清单-41]" in capsys.readouterr().out


def test_search_empty_query_is_a_clear_error(cli_service, capsys):
    assert main(["search", "   "]) == 2
    assert "请输入" in capsys.readouterr().err


def test_ask_json_with_history(cli_service, capsys, tmp_path):
    hist = tmp_path / "h.json"
    hist.write_text(
        json.dumps(
            [
                {"role": "user", "content": "婚前医学检查收费吗？"},
                {"role": "assistant", "content": "免费。"},
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    assert main(["ask", "那牵头单位呢？", "--history", str(hist), "--json"]) == 0
    ans = json.loads(capsys.readouterr().out)
    assert ans["citations"] == ["清单-41"] and "市卫生计生委" in ans["text"]
    assert main(["ask", "那牵头单位呢？", "--json"]) == 0  # no history: another item, or none
    alone = json.loads(capsys.readouterr().out)
    assert "清单-41" not in alone["citations"] and "市卫生计生委" not in alone["text"]


def test_ask_empty_question_json(cli_service, capsys):
    assert main(["ask", "", "--json"]) == 0
    ans = json.loads(capsys.readouterr().out)
    assert (ans["answered"], ans["reason"]) == (False, "empty")


def test_ask_bad_history_file(cli_service, capsys, tmp_path):
    bad = tmp_path / "h.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["ask", "低保", "--history", str(bad)]) == 2
    assert "历史" in capsys.readouterr().err


def test_a_reader_that_is_gone_gets_no_traceback():
    """`policyqa show --list | head -1`: the reader goes away; the command stops quietly with
    the usual exit status 141, no BrokenPipeError traceback on stderr."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "assistant.cli", "show", "--list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(write_end)
    err = proc.stderr.decode("utf-8")
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert proc.returncode == 141
