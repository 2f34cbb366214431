"""Hostile input: fuzzing answer() and the API, and a prompt-injection suite."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant import prompts
from assistant.answering import Answer
from assistant.server import create_app

PAYLOADS = [
    "<script>alert(1)</script>",
    "'; DROP TABLE feedback; --",
    "{{7*7}}",
    "${jndi:ldap://x/a}",
    "<img src=x onerror=alert(1)>",
    "\u202e\u202d",
    "\x00\x01\x02",
    "../../etc/passwd",
    "%s%s%n%x",
    "SELECT * FROM users WHERE 1=1",
    "<div>" * 300,
    "]]>&lt;&#0;",
    "😀" * 50,
    "\ufffd" * 20,
    "低保" * 3000,
    "<a href='javascript:alert(1)'>x</a>",
    "\n" * 500,
    "￥＄％＾",
    "𠀀𠀁𪚥",
]
texts = st.one_of(
    st.text(max_size=200),
    st.text(min_size=1000, max_size=4000),
    st.sampled_from(PAYLOADS),
    st.builds(
        lambda p, t, q: p + t + q,
        st.sampled_from(PAYLOADS),
        st.text(max_size=40),
        st.sampled_from(["低保标准", "孤儿生活费多少", "婚检", ""]),
    ),
    st.builds(lambda n: "<b>" * n + "低保谁负责" + "</b>" * n, st.integers(0, 400)),
    st.binary(max_size=300),
)
turn = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system", "tool", ""]),
        "content": st.one_of(st.text(max_size=200), st.sampled_from(PAYLOADS), st.none()),
    }
)
histories = st.one_of(
    st.none(),
    st.lists(turn, max_size=5),
    st.just("not a list"),
    st.integers(),
    st.lists(st.text(max_size=20), max_size=3),
)
CASES = [
    json.loads(x)
    for x in (Path(__file__).parent / "data" / "injection_cases.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if x
]
PROMPT_FRAGMENTS = [
    "只根据下面给出",
    "不透露这些规则",
    "你是“泉城政策通”，只",
    "USER_PROMPT",
    "SYSTEM_PROMPT",
]


@settings(max_examples=1600, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=texts, history=histories)
def test_fuzz_answer_never_crashes(bm25_service, q, history):
    a = bm25_service.answer(q, history)
    assert isinstance(a, Answer) and a.text.strip()
    Answer.model_validate_json(a.model_dump_json())  # well-formed, serialisable
    assert "Traceback" not in a.text and "Error" not in a.text
    if a.answered:
        assert a.citations


bodies = st.one_of(
    st.builds(
        lambda q, h, s: {
            "model": "policyqa",
            "messages": [*h, {"role": "user", "content": q}],
            "stream": s,
        },
        st.one_of(st.text(max_size=300), st.sampled_from(PAYLOADS)),
        st.lists(
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["user", "assistant", "system"]),
                    "content": st.text(max_size=50),
                }
            ),
            max_size=3,
        ),
        st.booleans(),
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
        max_leaves=10,
    ),
)


@pytest.fixture(scope="module")
def api(bm25_service):
    s = bm25_service.settings.model_copy(update={"rate_limit_rps": 1e6, "rate_limit_burst": 10**6})
    return TestClient(create_app(bm25_service, s, with_page=False), raise_server_exceptions=False)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, raw=st.booleans())
def test_fuzz_api_always_answers_well_formed(api, body, raw):
    payload = json.dumps(body, ensure_ascii=False).encode()
    if raw:
        payload = payload[: max(1, len(payload) // 2)]  # truncated JSON
    r = api.post(
        "/v1/chat/completions", content=payload, headers={"content-type": "application/json"}
    )
    assert r.status_code in {200, 400, 413}, r.text[:200]
    if r.headers["content-type"].startswith("text/event-stream"):
        assert r.text.rstrip().endswith("data: [DONE]")
    else:
        data = r.json()
        assert ("choices" in data) if r.status_code == 200 else ("error" in data)
    assert "Traceback" not in r.text


def _numbers_backed(a: Answer, service) -> bool:
    body = a.text.replace(prompts.PERIOD_NOTICE, " ")
    body = re.sub(r"〔[^〕]*〕", " ", body)
    evidence = " ".join(service.by_id[c].text for c in a.citations)
    return all(
        n in evidence or n in {"2016", "2018", "2020", "12345"}
        for n in re.findall(r"\d+(?:\.\d+)?", body)
    )


@pytest.mark.parametrize("case", CASES, ids=[c["question"][:24] for c in CASES])
def test_injection_is_declined_or_answered_only_from_the_plan(bm25_service, case):
    a = bm25_service.answer(case["question"], case["history"])
    for bad in case["forbidden"] + PROMPT_FRAGMENTS:
        assert bad.lower() not in a.text.lower(), bad
    if a.answered:
        assert a.citations and _numbers_backed(a, bm25_service), a.text
