"""The eval runner, its report and the quality gate."""

from __future__ import annotations

import json
import re

import pytest

from assistant.cli import main
from assistant.evaluation import HEADLINE, check_gate, run_eval, score
from assistant.questions import load_questions
from assistant.report import write_html, write_markdown

ROWS = [
    {
        "id": "a",
        "question": "散居孤儿每个月生活费多少钱？",
        "answerable": True,
        "citations": ["清单-56"],
        "key_facts": ["1120元"],
        "type": "amount",
    },
    {
        "id": "b",
        "question": "那机构养育的呢？",
        "answerable": True,
        "citations": ["清单-56"],
        "key_facts": ["1410元"],
        "type": "followup",
        "history": [
            {"role": "user", "content": "散居孤儿每个月生活费多少钱？"},
            {"role": "assistant", "content": "每人每月1120元。"},
        ],
    },
    {
        "id": "c",
        "question": "<script>alert(1)</script>住房公积金怎么提取？",
        "answerable": False,
        "citations": [],
        "key_facts": [],
        "type": "out_of_scope",
    },
    {
        "id": "d",
        "question": "<script>alert(1)</script>职工医保单位和个人各交多少？",
        "answerable": True,
        "citations": ["清单-21"],
        "key_facts": ["9%", "2%", "一个不存在的事实"],
        "type": "amount",
    },
]


@pytest.fixture
def qfile(tmp_path):
    p = tmp_path / "q.jsonl"
    p.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n", encoding="utf-8"
    )
    return p


def test_report_has_every_key_of_the_contract(qfile, bm25_service):
    report = run_eval(load_questions(qfile), bm25_service)
    for key in ("n", *HEADLINE, "latency_ms_p50", "latency_ms_p95", "by_type", "questions"):
        assert key in report, key
    assert report["n"] == 4
    assert report["key_fact_accuracy"] == pytest.approx(2 / 3, abs=1e-3)  # d cannot pass
    assert report["refusal_accuracy"] == 1.0
    assert set(report["by_type"]) == {"amount", "followup", "out_of_scope"}
    q = {r["id"]: r for r in report["questions"]}
    assert q["a"]["pass"]["citation"] and q["b"]["pass"]["key_facts"]
    assert not q["d"]["pass"]["key_facts"] and q["c"]["pass"]["refused"]
    for r in report["questions"]:
        assert {"answer", "cited", "retrieved", "pass", "latency_ms"} <= set(r)
    for k in HEADLINE:
        assert 0 <= report[k] <= 1


def test_score_math():
    recs = [
        {
            "answerable": True,
            "latency_ms": 10,
            "reciprocal_rank": 1.0,
            "pass": {
                "hit_at_1": True,
                "hit_at_5": True,
                "citation": True,
                "key_facts": False,
                "not_refused": True,
            },
        },
        {
            "answerable": True,
            "latency_ms": 30,
            "reciprocal_rank": 0.5,
            "pass": {
                "hit_at_1": False,
                "hit_at_5": True,
                "citation": False,
                "key_facts": True,
                "not_refused": False,
            },
        },
        {"answerable": False, "latency_ms": 20, "pass": {"refused": True}},
    ]
    s = score(recs)
    assert (s["hit_at_1"], s["hit_at_5"], s["mrr"]) == (0.5, 1.0, 0.75)
    assert (s["citation_accuracy"], s["false_refusal_rate"], s["refusal_accuracy"]) == (
        0.5,
        0.5,
        1.0,
    )
    assert s["latency_ms_p50"] == 20


def test_html_report_is_self_contained_and_escaped(qfile, bm25_service, tmp_path):
    report = run_eval(load_questions(qfile), bm25_service)
    report["baselines"] = {
        "ours": {
            "hit_at_1": 0.9,
            "hit_at_5": 1.0,
            "mrr": 0.95,
            "latency_ms_p50": 1.0,
            "latency_ms_p95": 2.0,
            "n": 3,
        }
    }
    out = tmp_path / "r.html"
    write_html(report, out)
    write_markdown(report, out.with_suffix(".md"))
    page = out.read_text(encoding="utf-8")
    assert "<svg" in page and "未通过的题" in page and "检索基线" in page
    assert not re.search(r"(src|href)=[\"']?https?://", page)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "| hit@1 |" in out.with_suffix(".md").read_text(encoding="utf-8")


def test_gate():
    report = {"hit_at_1": 0.8, "false_refusal_rate": 0.1, "mrr": 0.99}
    fails = check_gate(report, {"hit_at_1": 0.9, "false_refusal_rate": 0.05, "mrr": 0.9})
    assert len(fails) == 2 and any("hit_at_1" in f for f in fails)
    assert check_gate(report, {"mrr": 0.9}) == []


def test_malformed_set_exits_2_naming_the_line(tmp_path, capsys):
    p = tmp_path / "bad.jsonl"
    good = json.dumps(ROWS[0], ensure_ascii=False)
    p.write_text(
        good + "\n" + good.replace('"a"', '"z"').replace("清单-56", "清单-999") + "\n",
        encoding="utf-8",
    )
    assert main(["eval", str(p), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2" in err and "清单-999" in err


def test_llm_judge_scores_with_a_fake_model(qfile, service):
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from assistant.judge import judge_report

    report = run_eval(load_questions(qfile), service)
    answered = sum(q["answered"] for q in report["questions"])
    replies = []
    for _ in range(answered):
        replies.append(
            AIMessage(
                content='[{"statement": "a", "supported": true}, {"statement": "b", "supported": false}]'
            )
        )
        replies.append(
            AIMessage(
                content='["散居孤儿每个月生活费多少钱？", "孤儿生活费标准是多少？", "孤儿每月领多少？"]'
            )
        )
    judged = judge_report(report, service, llm=GenericFakeChatModel(messages=iter(replies)))
    assert judged["faithfulness"] == 0.5 and judged["judged"] == answered
    assert 0.5 < judged["answer_relevancy"] <= 1.0


def test_llm_judge_skipped_without_endpoint(bm25_service):
    from assistant.judge import judge_report

    assert "POLICYQA_LLM_BASE_URL" in judge_report({"questions": []}, bm25_service)["skipped"]
