"""The documents API: GET /v1/documents lists the library; POST adds a file and DELETE removes one,
both only with the administrator's key; bad or oversize files are refused with a Chinese message
and change nothing; the API's limits (rate, key, body size) hold for these routes too."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.ingest import IngestLimits
from assistant.library import Library
from assistant.server import create_app
from assistant.settings import Settings
from tests.conftest import FakeEmbeddings

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
NOTICE = FIXTURES / "jn-fixture-notice.txt"
RULES = FIXTURES / "jn-fixture-rules.txt"
ADMIN = "admin-key-for-tests-0123456789"
API = "api-key-for-tests-9876543210"


def make_client(tmp_path: Path, **options) -> TestClient:
    """A BM25-only service over a library of its own (in tmp_path) behind the real API."""
    from assistant.service import Service

    settings = Settings(
        index_dir=tmp_path / "index",
        feedback_db=tmp_path / "feedback.sqlite3",
        **options,
    )
    service = Service(settings, with_vectors=False)
    # the library indexes what is added with deterministic vectors: fast, and no model loads
    service.library = Library(settings, FakeEmbeddings())
    client = TestClient(create_app(service, settings=settings, with_page=False))
    client.service = service
    return client


@pytest.fixture
def admin_client(tmp_path):
    return make_client(tmp_path, admin_key=SecretStr(ADMIN))


def auth(key: str = ADMIN) -> dict:
    return {"Authorization": f"Bearer {key}"}


def upload(
    client, path: Path | None = None, *, data: bytes | None = None, name=None, key=ADMIN, **fields
):
    content = data if data is not None else path.read_bytes()
    files = {"file": (name or path.name, content, "application/octet-stream")}
    headers = auth(key) if key else {}
    return client.post("/v1/documents", files=files, data=fields, headers=headers)


def listing(client) -> dict:
    r = client.get("/v1/documents")
    assert r.status_code == 200, r.text
    return r.json()


def message(r) -> str:
    return r.json()["error"]["message"]


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


# ---------------------------------------------------------------- listing


def test_the_list_shows_the_seed_with_its_cover_facts(admin_client, plan):
    docs = listing(admin_client)["data"]
    assert len(docs) == 1
    seed = docs[0]
    assert seed["default"] is True and seed["removable"] is False
    assert seed["records"] == len(plan.records)
    assert seed["doc_number"] == plan.meta.doc_number and "〔2018〕5号" in seed["doc_number"]
    assert seed["period"] == plan.meta.period and seed["title"] == plan.meta.title
    for field in ("id", "issued", "issuer", "format", "sha256", "added"):
        assert field in seed


def test_without_an_admin_key_the_library_is_read_only(tmp_path):
    client = make_client(tmp_path)
    before = listing(client)
    assert before["read_only"] is True
    r = upload(client, NOTICE)
    assert r.status_code == 403 and "只读" in message(r)
    r = client.delete("/v1/documents/" + before["data"][0]["id"], headers=auth())
    assert r.status_code == 403 and "只读" in message(r)
    assert listing(client) == before


def test_a_missing_or_wrong_admin_key_is_refused_and_changes_nothing(admin_client):
    before = listing(admin_client)
    assert before["read_only"] is False
    r = upload(admin_client, NOTICE, key=None)
    assert r.status_code == 401 and "管理员密钥" in message(r)
    r = upload(admin_client, NOTICE, key="not-the-key")
    assert r.status_code == 403 and "不正确" in message(r)
    seed = before["data"][0]["id"]
    assert admin_client.delete(f"/v1/documents/{seed}").status_code == 401
    assert admin_client.delete(f"/v1/documents/{seed}", headers=auth("nope")).status_code == 403
    assert listing(admin_client) == before


# ---------------------------------------------------------------- add, search, remove


def test_add_a_document_search_it_and_remove_it(admin_client):
    before = listing(admin_client)
    r = upload(admin_client, NOTICE, title="孤儿保障标准调整通知（测试）")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["title"] == "孤儿保障标准调整通知（测试）"
    assert doc["records"] > 0 and doc["removable"] is True and doc["default"] is False
    assert "〔2021〕12号" in doc["doc_number"] and doc["added"]
    after = listing(admin_client)
    assert [d["id"] for d in after["data"]] == [*(d["id"] for d in before["data"]), doc["id"]]
    assert after["version"] != before["version"]
    assert admin_client.get(f"/v1/documents/{doc['id']}").json()["records"] == doc["records"]

    # the added document answers, and a search can be limited to it
    hits = admin_client.service.search("散居孤儿生活费", k=5, documents=[doc["id"]])
    assert hits and all(h.id.startswith(doc["id"] + ":") for h in hits)

    r = admin_client.delete(f"/v1/documents/{doc['id']}", headers=auth())
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert [d["id"] for d in listing(admin_client)["data"]] == [d["id"] for d in before["data"]]
    assert admin_client.get(f"/v1/documents/{doc['id']}").status_code == 404


def test_the_form_fields_set_id_and_issued_date(admin_client):
    r = upload(admin_client, RULES, id="test-rules-2022", issued="2022-03-01")
    assert r.status_code == 201, r.text
    assert r.json()["id"] == "test-rules-2022" and r.json()["issued"].startswith("2022-03-01")
    # the same id again: refused, the first one kept
    again = upload(admin_client, NOTICE, id="test-rules-2022")
    assert again.status_code in {400, 409, 422} and has_chinese(message(again))
    assert [d["id"] for d in listing(admin_client)["data"]].count("test-rules-2022") == 1


def test_the_default_document_cannot_be_removed_and_an_unknown_one_is_404(admin_client):
    seed = listing(admin_client)["data"][0]["id"]
    r = admin_client.delete(f"/v1/documents/{seed}", headers=auth())
    assert r.status_code == 409 and has_chinese(message(r))
    r = admin_client.delete("/v1/documents/no-such-doc", headers=auth())
    assert r.status_code == 404 and "没有" in message(r)
    assert [d["id"] for d in listing(admin_client)["data"]] == [seed]


# ---------------------------------------------------------------- bad files change nothing


def _docx_without_text() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    "name, data",
    [
        ("empty.txt", b""),
        ("blank.txt", b"   \n\n  "),
        ("program.exe", b"MZ\x90\x00" * 100),
        ("broken.pdf", b"%PDF-1.4\nnot really a pdf" * 10),
        ("broken.docx", b"PK\x03\x04 not a zip at all" * 10),
        ("hollow.docx", _docx_without_text()),
        ("noname", b"some text"),
    ],
)
def test_a_bad_file_gets_a_chinese_message_and_nothing_changes(admin_client, name, data):
    before = listing(admin_client)
    r = upload(admin_client, data=data, name=name)
    assert r.status_code in {400, 422}, r.text
    text = message(r)
    assert has_chinese(text) and "Traceback" not in text and "Error" not in text
    assert listing(admin_client) == before


def test_an_oversize_file_is_refused_while_the_body_is_read(tmp_path):
    client = make_client(
        tmp_path, admin_key=SecretStr(ADMIN), ingest_limits=IngestLimits(max_bytes=4096)
    )
    before = listing(client)
    # over the file limit but within the form's allowance: read, bounded, then refused by size
    r = upload(client, data="孤儿".encode() * 5000, name="big.txt")
    assert r.status_code in {413, 422} and "上限" in message(r)
    # over the whole body's bound: refused from Content-Length before anything is read
    r = upload(client, data=b"x" * (4096 + 200 * 1024), name="huge.txt")
    assert r.status_code == 413 and "上限" in message(r)
    assert listing(client) == before


def test_an_upload_without_content_length_or_not_multipart_is_refused(admin_client):
    before = listing(admin_client)

    def chunks():
        yield b"--x\r\n"
        yield b"more"

    r = admin_client.post(
        "/v1/documents",
        content=chunks(),
        headers={**auth(), "content-type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 411
    r = admin_client.post(
        "/v1/documents",
        content=b'{"file": "x"}',
        headers={**auth(), "content-type": "application/json"},
    )
    assert r.status_code == 400 and "multipart" in message(r)
    r = admin_client.post("/v1/documents", files={"title": (None, "无文件")}, headers=auth())
    assert r.status_code == 400 and "选择" in message(r)
    r = upload(admin_client, NOTICE, title="长" * 500)
    assert r.status_code == 400 and "过长" in message(r)
    r = admin_client.post(
        "/v1/documents",
        content=b"--x\r\nbroken",
        headers={**auth(), "content-type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 400 and has_chinese(message(r))
    assert listing(admin_client) == before


def test_a_client_file_name_never_becomes_a_path(admin_client, tmp_path):
    r = upload(admin_client, NOTICE, name="../../../../tmp/evil.txt")
    assert r.status_code == 201, r.text
    library = admin_client.service.settings.library_path
    assert not Path("/tmp/evil.txt").exists()
    assert all(library in p.resolve().parents for p in library.rglob("*"))


# ---------------------------------------------------------------- the API's limits hold


def test_with_an_api_key_the_admin_key_still_opens_uploads_and_the_api_key_alone_does_not(
    tmp_path,
):
    client = make_client(tmp_path, admin_key=SecretStr(ADMIN), api_key=SecretStr(API))
    assert client.get("/v1/documents").status_code == 401  # the API is closed without a key
    assert client.get("/v1/documents", headers=auth(API)).status_code == 200
    r = upload(client, NOTICE, key=API)
    assert r.status_code == 403 and "不正确" in message(r)
    r = upload(client, NOTICE, key=ADMIN)
    assert r.status_code == 201, r.text


def test_uploads_are_rate_limited_before_the_key_is_checked(tmp_path):
    client = make_client(
        tmp_path, admin_key=SecretStr(ADMIN), rate_limit_rps=0.5, rate_limit_burst=3
    )
    codes = [upload(client, data=b"x", name="a.txt", key="guess").status_code for _ in range(5)]
    assert codes[:3] == [403, 403, 403] and codes[3:] == [429, 429]
    r = upload(client, NOTICE)
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_the_request_log_names_the_added_document_and_never_the_key(admin_client, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="policyqa.api"):
        r = upload(admin_client, NOTICE)
    assert r.status_code == 201
    logged = json.dumps([(rec.getMessage(), rec.__dict__.get("reason")) for rec in caplog.records])
    assert r.json()["id"] in logged and ADMIN not in logged
