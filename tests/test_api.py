"""The OpenAI-compatible API: protocol, SDK, auth, input hygiene, rate limits, logs."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.server import JsonLines, TokenBucket, create_app

Q = "散居孤儿每个月生活费多少钱？"


def body(question=Q, **extra):
    return {"model": "policyqa", "messages": [{"role": "user", "content": question}], **extra}


@pytest.fixture(scope="module")
def client(bm25_service):
    bm25_service.settings.rate_limit_rps = 1000.0
    bm25_service.settings.rate_limit_burst = 1000
    return TestClient(create_app(bm25_service, bm25_service.settings, with_page=False))


def test_chat_completion_with_references(client):
    r = client.post("/v1/chat/completions", json=body())
    assert r.status_code == 200 and r.headers["x-request-id"]
    data = r.json()
    assert (
        data["object"] == "chat.completion" and data["choices"][0]["message"]["role"] == "assistant"
    )
    assert "1120元" in data["choices"][0]["message"]["content"]
    assert data["references"][0]["id"] == "清单-56" and "1410元" in data["references"][0]["text"]
    assert data["policyqa"]["answered"] is True


def test_streaming_sse(client):
    with client.stream("POST", "/v1/chat/completions", json=body(stream=True)) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln[6:]) for ln in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "1120元" in text and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["references"][0]["id"] == "清单-56"


def test_follow_up_takes_its_subject_from_earlier_messages(client):
    def ask(messages):
        data = client.post(
            "/v1/chat/completions", json={"model": "policyqa", "messages": messages}
        ).json()
        return data["choices"][0]["message"]["content"], [r["id"] for r in data["references"]]

    earlier = [
        {"role": "user", "content": "高龄津贴发给谁？"},
        {"role": "assistant", "content": "发给困难老年人。"},
    ]
    follow_up = {"role": "user", "content": "那牵头单位呢？"}
    text, refs = ask([*earlier, follow_up])
    assert refs == ["清单-53"] and "市民政局、市财政局" in text
    text, refs = ask([follow_up])  # without the earlier messages: some other item, or none
    assert "清单-53" not in refs and "市民政局" not in text


def test_models_and_health(client):
    assert client.get("/v1/models").json()["data"][0]["id"] == "policyqa"
    h = client.get("/healthz").json()
    assert h["records"] == {"section": 25, "box": 12, "task": 28, "item": 100} and h["chunks"] > 300


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        (b"{not json", 400, "JSON"),
        (json.dumps({"model": "x", "messages": []}).encode(), 400, "messages"),
        (json.dumps(body("   ")).encode(), 400, "不能为空"),
        (
            json.dumps(
                {"model": "x", "messages": [{"role": "assistant", "content": "hi"}]}
            ).encode(),
            400,
            "用户",
        ),
        (json.dumps(body("孤儿" * 40_000)).encode(), 413, "过大"),
    ],
)
def test_bad_requests_get_a_chinese_message(client, payload, status, words):
    r = client.post(
        "/v1/chat/completions", content=payload, headers={"content-type": "application/json"}
    )
    assert r.status_code == status and words in r.json()["error"]["message"]
    assert "Traceback" not in r.text


def test_control_characters_are_stripped(client):
    r = client.post("/v1/chat/completions", json=body("散居孤儿\x00每个月\x07生活费多少钱？"))
    assert r.status_code == 200 and "1120元" in r.json()["choices"][0]["message"]["content"]


def test_api_key(bm25_service):
    settings = bm25_service.settings.model_copy(update={"api_key": SecretStr("s3cret")})
    c = TestClient(create_app(bm25_service, settings, with_page=False))
    assert c.post("/v1/chat/completions", json=body()).status_code == 401
    ok = c.post("/v1/chat/completions", json=body(), headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert c.get("/healthz").status_code == 200  # health stays open for load balancers


class FakeClock:
    """Time stands still until a test moves it: no request is ever slow enough to refill."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_answers_429_with_an_honest_retry_after(bm25_service, monkeypatch):
    import functools

    import assistant.server as server

    clock = FakeClock()
    monkeypatch.setattr(server, "TokenBucket", functools.partial(TokenBucket, clock=clock))
    settings = bm25_service.settings.model_copy(
        update={"rate_limit_rps": 0.5, "rate_limit_burst": 3}
    )
    c = TestClient(create_app(bm25_service, settings, with_page=False))
    assert [c.get("/v1/models").status_code for _ in range(3)] == [200, 200, 200]
    r = c.get("/v1/models")
    assert (r.status_code, r.headers["retry-after"]) == (429, "2")
    assert "频繁" in r.json()["error"]["message"]
    clock.now += 2.0  # the wait it named
    assert c.get("/v1/models").status_code == 200


def test_token_bucket_refills_at_its_rate():
    clock = FakeClock()
    b = TokenBucket(rate=2.0, burst=1, clock=clock)
    assert b.take("a") == 0
    assert b.take("a") == pytest.approx(0.5)  # empty: the next token in 1/rate seconds
    clock.now += 0.25
    assert b.take("a") == pytest.approx(0.25)  # half a token back
    clock.now += 0.25
    assert b.take("a") == 0


def test_token_bucket_keeps_one_bucket_per_client():
    b = TokenBucket(rate=1.0, burst=1, clock=FakeClock())
    assert b.take("a") == 0 and b.take("a") > 0
    assert b.take("b") == 0


def test_json_logs_redact_and_carry_fields():
    rec = logging.LogRecord(
        "x", logging.INFO, "f", 1, "问题 13812345678 身份证370102199001011234", None, None
    )
    rec.request_id, rec.latency_ms, rec.answered = "abc", 12.5, True
    out = json.loads(JsonLines().format(rec))
    assert out["request_id"] == "abc" and out["latency_ms"] == 12.5 and out["answered"] is True
    assert "13812345678" not in out["msg"] and "370102199001011234" not in out["msg"]


@pytest.mark.slow
def test_official_openai_sdk(live):
    from openai import OpenAI

    sdk = OpenAI(base_url=live.url + "/v1", api_key="unused")
    assert [m.id for m in sdk.models.list()] == ["policyqa"]
    r = sdk.chat.completions.create(model="policyqa", messages=[{"role": "user", "content": Q}])
    assert "1120元" in r.choices[0].message.content
    assert r.model_extra["references"][0]["id"] == "清单-56"
    stream = sdk.chat.completions.create(
        model="policyqa", messages=[{"role": "user", "content": Q}], stream=True
    )
    text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
    assert "1120元" in text
