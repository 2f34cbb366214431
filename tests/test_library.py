"""The library: documents added and removed at run time, atomically, indexed incrementally,
cited as DOC:LOCAL, and noticed by every process that answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.documents import load_plans
from assistant.ingest import (
    EmptyDocumentError,
    FileTooLargeError,
    IngestError,
    IngestLimits,
    NoTextLayerError,
    UnsupportedFormatError,
)
from assistant.library import Library, LibraryError
from assistant.settings import Settings
from assistant.store import ensure_index, get_collection, manifest_path

from .conftest import CORPUS, SOURCE, FakeEmbeddings

FIXTURES = Path(__file__).parent / "fixtures" / "docs"
RULES = FIXTURES / "jn-fixture-rules.txt"
NOTICE = FIXTURES / "jn-fixture-notice.txt"


class CountingEmbeddings(FakeEmbeddings):
    """Counts the texts embedded, not only the calls."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.texts: list[str] = []

    def embed_documents(self, texts):
        self.texts += list(texts)
        return super().embed_documents(texts)


def _copy(src: Path, dst_dir: Path, name: str | None = None) -> Path:
    """A fixture outside tests/fixtures, with its .toml (its cover facts) beside it."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / (name or src.name)
    shutil.copy(src, dst)
    if src.with_suffix(".toml").exists():
        shutil.copy(src.with_suffix(".toml"), dst.with_suffix(".toml"))
    return dst


def _snapshot(settings: Settings) -> dict:
    """What must not change when an operation fails: files, the index and its manifest."""
    lib = settings.library_path
    files = (
        {p.name: p.read_bytes() for p in sorted(lib.iterdir()) if p.is_file()}  # not .parsed/
        if lib.exists()
        else {}
    )
    col = get_collection(settings)
    got = col.get(include=["documents"])
    return {
        "files": files,
        "ids": sorted(got["ids"]),
        "meta": col.metadata,
        "manifest": manifest_path(settings).read_text(encoding="utf-8"),
    }


@pytest.fixture
def lib(tmp_settings):
    emb = CountingEmbeddings()
    ensure_index(tmp_settings, emb)
    emb.texts.clear()
    return Library(tmp_settings, emb)


# ---------------------------------------------------------------- add, list, remove


def test_add_list_get_remove(lib, tmp_path):
    seed_only = lib.list()
    assert [d.id for d in seed_only] == ["jinan-2018-5"]
    assert seed_only[0].default and not seed_only[0].removable and seed_only[0].added == ""
    v0 = lib.version

    info = lib.add(_copy(RULES, tmp_path / "in"))
    assert info.id == "jn-fixture-rules" and info.removable and not info.default
    assert (info.doc_number, info.issued, info.format) == ("济民规〔2021〕3号", "2021-08-10", "txt")
    assert info.records == 26 and info.added
    assert lib.version != v0
    notice = lib.add(_copy(NOTICE, tmp_path / "in"), title="孤儿和高龄津贴通知")
    assert notice.title == "孤儿和高龄津贴通知"
    # default first, then the newest issued first
    assert [d.id for d in lib.list()] == ["jinan-2018-5", "jn-fixture-rules", "jn-fixture-notice"]
    assert lib.get("jn-fixture-notice").title == "孤儿和高龄津贴通知"
    ids = {r.id for r in lib.records()}
    assert {"清单-56", "jn-fixture-rules:条款-3", "jn-fixture-notice:附件1-1"} <= ids
    # the library holds the original file and its cover facts
    stored = sorted(p.name for p in lib.dir.iterdir())
    assert "jn-fixture-rules.txt" in stored and "jn-fixture-rules.toml" in stored

    v2 = lib.version
    gone = lib.remove("jn-fixture-rules")
    assert gone.id == "jn-fixture-rules" and lib.version != v2
    assert [d.id for d in lib.list()] == ["jinan-2018-5", "jn-fixture-notice"]
    assert not any(p.name.startswith("jn-fixture-rules") for p in lib.dir.iterdir())
    col = get_collection(lib.settings)
    assert not col.get(where={"plan": "jn-fixture-rules"})["ids"]
    assert col.get(where={"plan": "jn-fixture-notice"})["ids"]


def test_refusals_are_polite_and_change_nothing(lib, tmp_path):
    lib.add(_copy(RULES, tmp_path / "in"))
    before = _snapshot(lib.settings)
    with pytest.raises(LibraryError, match="已有编号"):
        lib.add(_copy(RULES, tmp_path / "again"))
    with pytest.raises(LibraryError, match="已经在文件库中"):
        lib.add(_copy(RULES, tmp_path / "again2"), doc_id="other-copy")
    with pytest.raises(LibraryError, match="不可用"):
        lib.add(_copy(NOTICE, tmp_path / "in"), doc_id="Bad:ID")
    with pytest.raises(LibraryError, match="日期"):
        lib.add(_copy(NOTICE, tmp_path / "in"), issued="2021年")
    with pytest.raises(LibraryError, match="默认文件"):
        lib.remove("jinan-2018-5")
    with pytest.raises(LibraryError, match="没有编号"):
        lib.remove("no-such-doc")
    assert _snapshot(lib.settings) == before


def _make_scan(path: Path) -> Path:
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(image).rectangle((40, 40, 360, 160), outline="black", width=5)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=150)
    pdf.output(str(path))
    return path


def test_bad_files_are_refused_and_change_nothing(lib, tmp_path):
    lib.add(_copy(NOTICE, tmp_path / "in"))
    lib.embeddings.texts.clear()
    before = _snapshot(lib.settings)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "sheet.xlsx").write_bytes(b"PK\x03\x04 anything")
    (bad / "big.txt").write_text("一、总则\n\n" + "正文。" * 2000, encoding="utf-8")
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500 + "EncryptedPackage".encode("utf-16-le")
    (bad / "locked.docx").write_bytes(ole + b"\0" * 500)
    small = Library(
        lib.settings.model_copy(update={"ingest_limits": IngestLimits(max_bytes=10_000)}),
        lib.embeddings,
    )
    cases = [
        (lib, bad / "empty.txt", EmptyDocumentError),
        (lib, bad / "sheet.xlsx", UnsupportedFormatError),
        (small, bad / "big.txt", FileTooLargeError),
        (lib, bad / "locked.docx", IngestError),
        (lib, _make_scan(bad / "scan.pdf"), NoTextLayerError),
    ]
    for library, path, error in cases:
        with pytest.raises(error) as e:
            library.add(path)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in e.value.message), e.value.message
    assert _snapshot(lib.settings) == before
    assert lib.embeddings.texts == []


@pytest.mark.parametrize("where", ["index", "list"])
def test_add_is_atomic_when_a_step_fails(lib, tmp_path, monkeypatch, where):
    lib.add(_copy(NOTICE, tmp_path / "in"))
    before = _snapshot(lib.settings)
    version = lib.version
    import assistant.store as store

    if where == "index":  # the failure halfway through writing the new chunks
        real_upsert_calls = []

        def failing_sync(col, embeddings, doc, chunks, progress=False, added=False):
            col.upsert(
                ids=[d.id for d in chunks[:5]],
                embeddings=embeddings.embed_documents([d.page_content for d in chunks[:5]]),
                documents=[d.page_content for d in chunks[:5]],
                metadatas=[d.metadata for d in chunks[:5]],
            )
            real_upsert_calls.append(doc)
            raise OSError("disk full")

        monkeypatch.setattr(store, "sync_document", failing_sync)
    else:  # the index is written; the list of documents is not

        def failing_write(self, entries):
            raise OSError("disk full")

        monkeypatch.setattr(Library, "_write_manifest", failing_write)
    with pytest.raises(OSError):
        lib.add(_copy(RULES, tmp_path / "in"))
    monkeypatch.undo()
    assert _snapshot(lib.settings) == before
    assert lib.version == version and [d.id for d in lib.list()][-1] == "jn-fixture-notice"
    # and it can be added afterwards
    assert lib.add(_copy(RULES, tmp_path / "in")).id == "jn-fixture-rules"


def test_remove_is_atomic_when_the_index_fails(lib, tmp_path, monkeypatch):
    lib.add(_copy(RULES, tmp_path / "in"))
    before = _snapshot(lib.settings)
    import assistant.store as store

    def failing_delete(col, doc):
        raise OSError("index unavailable")

    monkeypatch.setattr(store, "delete_document", failing_delete)
    with pytest.raises(OSError):
        lib.remove("jn-fixture-rules")
    monkeypatch.undo()
    assert _snapshot(lib.settings) == before
    assert lib.get("jn-fixture-rules") is not None


# ---------------------------------------------------------------- the incremental index


def test_adding_embeds_only_the_new_documents_chunks(lib, tmp_path):
    from assistant.chunks import build_chunks

    lib.add(_copy(RULES, tmp_path / "in"))
    rules = next(p for p in lib.plans() if p.meta.id == "jn-fixture-rules")
    new_texts = {d.page_content for d in build_chunks(rules.records)}
    assert set(lib.embeddings.texts) == new_texts
    assert len(lib.embeddings.texts) == len(new_texts)
    col = get_collection(lib.settings)
    seed_chunks = json.loads(manifest_path(lib.settings).read_text())["documents"]
    assert col.count() == sum(d["chunks"] for d in seed_chunks.values())

    # re-opening the unchanged corpus and library embeds nothing
    again = CountingEmbeddings()
    m = ensure_index(lib.settings, again)
    assert again.texts == [] and set(m["documents"]) == {"jinan-2018-5", "jn-fixture-rules"}


def test_a_changed_document_reembeds_only_what_changed(lib, tmp_path):
    lib.add(_copy(RULES, tmp_path / "in"))
    stored = lib.dir / "jn-fixture-rules.txt"
    text = stored.read_text(encoding="utf-8")
    assert "应救尽救" in text
    stored.write_text(text.replace("应救尽救", "应救尽救、及时高效"), encoding="utf-8")
    emb = CountingEmbeddings()
    ensure_index(lib.settings, emb)
    assert len(emb.texts) == 1 and "及时高效" in emb.texts[0]
    col = get_collection(lib.settings)
    got = col.get(where={"plan": "jn-fixture-rules"}, include=["documents"])
    assert sum("及时高效" in d for d in got["documents"]) == 1
    assert ensure_index(lib.settings, CountingEmbeddings())["chunks"] == col.count()


def test_an_index_from_before_documents_were_tracked_is_taken_without_embedding(tmp_settings):
    """The index every existing install has: one seed plan, the old manifest keys."""
    from assistant.documents import corpus_hash

    emb = CountingEmbeddings()
    m = ensure_index(tmp_settings, emb)
    col = get_collection(tmp_settings)
    old = {f"policyqa_{k}": m[k] for k in ("model_id", "dimension", "chunks", "schema")}
    col.modify(metadata=old | {"policyqa_corpus_hash": corpus_hash(CORPUS)})
    emb.texts.clear()
    assert ensure_index(tmp_settings, emb) == m
    assert emb.texts == []


# ---------------------------------------------------------------- the seed as .docx and .pdf


def _seed_as(kind: str, tmp_path: Path) -> Path:
    from assistant.ingest import formats

    from .ingest_convert import cjk_font, write_docx, write_pdf

    seed = formats.read_text(SOURCE.read_text(encoding="utf-8"))
    if kind == "docx":
        return write_docx(seed, tmp_path / "seed-copy.docx")
    font = cjk_font()
    if font is None:
        pytest.skip("no CJK font on this machine (Debian: fonts-noto-cjk)")
    return write_pdf(seed, tmp_path / "seed-copy.pdf", font)


@pytest.mark.parametrize("kind", ["docx", "pdf"])
def test_seed_docx_and_pdf_through_add_give_the_seeds_records(lib, tmp_path, kind):
    path = _seed_as(kind, tmp_path)
    info = lib.add(path, doc_id=f"seed-{kind}")
    assert info.format == kind and info.doc_number == "济政发〔2018〕5号"
    assert info.issued == "2018-03-15"
    seed = {r.id: r for r in load_plans(CORPUS)[0].records}
    copy = next(p for p in lib.plans() if p.meta.id == f"seed-{kind}")
    got = {r.id.partition(":")[2]: r for r in copy.records}
    assert set(got) == set(seed)
    for cid, rec in seed.items():
        assert (got[cid].kind, got[cid].title, got[cid].text) == (rec.kind, rec.title, rec.text)


# ---------------------------------------------------------------- IDs across documents


def test_doc_local_ids_round_trip(lib, tmp_path, monkeypatch, capsys):
    from assistant import cli
    from assistant.questions import load_questions
    from assistant.settings import get_settings

    lib.add(_copy(RULES, tmp_path / "in"))
    qs = tmp_path / "q.jsonl"
    rows = [
        {"id": "a", "question": "x", "answerable": True, "citations": ["jinan-2018-5:清单-56"]},
        {"id": "b", "question": "y", "answerable": True, "citations": ["jn-fixture-rules:条款-3"]},
        {"id": "c", "question": "z", "answerable": True, "citations": ["清单-56"]},
    ]
    qs.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    known = {r.id for r in lib.records()}
    got = load_questions(qs, known)
    assert [q.citations for q in got] == [["清单-56"], ["jn-fixture-rules:条款-3"], ["清单-56"]]
    rows[1]["citations"] = ["jn-fixture-rules:条款-99"]
    qs.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    with pytest.raises(ValueError, match="条款-99"):
        load_questions(qs, known)

    monkeypatch.setenv("POLICYQA_INDEX_DIR", str(lib.settings.index_dir))
    get_settings.cache_clear()
    try:
        assert cli.main(["show", "jn-fixture-rules:条款-3"]) == 0
        out = capsys.readouterr().out
        assert "《济南市临时救助实施办法》第三条" in out and "应救尽救" in out
        assert cli.main(["show", "jinan-2018-5:清单56"]) == 0
        assert "孤儿" in capsys.readouterr().out
        assert cli.main(["show", "jn-fixture-rules:条款-99"]) == 2
        assert cli.main(["docs"]) == 0
        table = capsys.readouterr().out
        assert (
            "jn-fixture-rules" in table and "济民规〔2021〕3号" in table and "2021-08-10" in table
        )
    finally:
        get_settings.cache_clear()


def test_cli_add_and_remove_with_messages_and_exit_codes(tmp_path, monkeypatch, capsys):
    """The CLI with a real index would embed with the model: here the library embeds fakes."""
    from assistant import cli
    from assistant.settings import get_settings

    settings = Settings(index_dir=tmp_path / "index")
    ensure_index(settings, FakeEmbeddings())
    monkeypatch.setenv("POLICYQA_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setattr(Library, "embeddings", property(lambda self: FakeEmbeddings()))
    get_settings.cache_clear()
    try:
        (tmp_path / "empty.txt").write_bytes(b"")
        assert cli.main(["add", str(tmp_path / "empty.txt")]) == 1
        assert "未添加" in capsys.readouterr().err
        assert cli.main(["add", str(tmp_path / "missing.txt")]) == 2
        src = _copy(RULES, tmp_path / "in")
        assert cli.main(["add", str(src), "--id", "rules-2021", "--issued", "2021-09-01"]) == 0
        assert "已添加：rules-2021" in capsys.readouterr().out
        assert cli.main(["docs", "--json"]) == 0
        docs = json.loads(capsys.readouterr().out)
        assert [(d["id"], d["issued"]) for d in docs][1] == ("rules-2021", "2021-09-01")
        assert cli.main(["remove", "jinan-2018-5"]) == 1
        assert "不能" in capsys.readouterr().err
        assert cli.main(["remove", "rules-2021"]) == 0
        assert cli.main(["remove", "rules-2021"]) == 1
    finally:
        get_settings.cache_clear()


# ---------------------------------------------------------------- serving


def test_another_process_sees_the_new_set_before_its_next_answer(tmp_settings, tmp_path):
    """Two Services over one library and store stand for two answer workers."""
    from assistant.service import Service

    emb = FakeEmbeddings()
    a = Service(tmp_settings, embeddings=emb)
    b = Service(tmp_settings, embeddings=emb)
    question = "临时救助坚持什么原则？"
    assert not any(h.id.startswith("jn-fixture-rules:") for h in b.search(question, k=5))
    info = a.add_document(_copy(RULES, tmp_path / "in"))
    assert info.id == "jn-fixture-rules"
    assert any(h.id.startswith("jn-fixture-rules:") for h in a.search(question, k=5))
    hits = b.search(question, k=3, documents=["jn-fixture-rules"])
    assert hits and all(h.id.startswith("jn-fixture-rules:") for h in hits)
    assert b.search(question, k=3, documents=["jinan-2018-5"])[0].id.count(":") == 0
    # b's vector side sees chunks a wrote (a Chroma client opened before them would not)
    pairs = b.retriever.vectorstore._collection.count()
    assert pairs == get_collection(tmp_settings).count()
    a.remove_document("jn-fixture-rules")
    assert not any(h.id.startswith("jn-fixture-rules:") for h in b.search(question, k=5))


# ---------------------------------------------------------------- answers across documents


@pytest.fixture(scope="module")
def two_documents(tmp_path_factory):
    """The seed plan with the 2021 notice (which raises 孤儿 amounts) and the 2021 rules."""
    from assistant.service import Service

    tmp = tmp_path_factory.mktemp("across")
    settings = Settings(index_dir=tmp / "index", feedback_db=tmp / "f.sqlite3")
    svc = Service(settings, embeddings=FakeEmbeddings())
    svc.add_document(_copy(NOTICE, tmp / "in"))
    svc.add_document(_copy(RULES, tmp / "in"))
    return svc


def test_the_newer_document_answers_first_and_the_older_is_named(two_documents):
    a = two_documents.answer("机构集中养育的孤儿每月生活费多少？")
    assert a.answered
    assert a.citations[0].startswith("jn-fixture-notice:"), a.citations
    assert "清单-56" in a.citations  # the 2018 plan's item, named after it
    assert {"清单-56", a.citations[0]} <= {s.id for s in a.sources}  # both cards open
    text = a.text
    assert text.index("2021年6月18日") < text.index("1700元") < text.index("2018年规划为")
    assert text.index("2018年规划为") < text.rindex("1410元")  # the plan's own amount
    # each document's own period caveat
    assert "济民发〔2021〕12号" in text and "济政发〔2018〕5号" in text
    assert "《提高孤儿基本生活保障标准和发放高龄津贴的通知》" in text  # citation names it


def test_a_year_the_newer_document_speaks_for_is_not_declined(two_documents):
    a = two_documents.answer("2021年以后社会散居孤儿每个月的基本生活费是多少？")
    assert a.answered and "1350元" in a.text
    # a year no document speaks for still is
    b = two_documents.answer("2024年以后临时救助还按这个办法执行吗？")
    assert not b.answered and "12345" in b.text


def test_a_decline_with_several_documents_speaks_of_all_of_them(two_documents):
    a = two_documents.answer("汽车摇号中签率多少")
    assert not a.answered and a.reason == "not_in_plan", a.text
    assert a.text.startswith("所收文件中没有找到") and "规划中" not in a.text and "12345" in a.text


def test_a_question_about_a_named_document_gets_its_cover_facts(two_documents):
    a = two_documents.answer("这份办法的文号是多少？")
    assert a.answered and "济民规〔2021〕3号" in a.text
    assert a.citations == ["jn-fixture-rules:章节-序言"]
    b = two_documents.answer("这份通知是哪个部门印发的？")
    assert "济南市民政局" in b.text and b.citations == ["jn-fixture-notice:章节-序言"]


def test_the_seed_alone_answers_as_before(bm25_service):
    """With the default plan alone nothing of the cross-document path runs."""
    assert bm25_service.across is None
    a = bm25_service.answer("散居孤儿每个月生活费多少？")
    assert a.citations[0] == "清单-56" and "2018年规划为" not in a.text


def test_pool_workers_follow_the_library_and_refusals_reach_the_front(tmp_path):
    """`policyqa serve --workers 2` (BM25-only workers here): a document added by another
    process is answered from by every worker; a refused file or removal comes back to the
    front as the same error with its Chinese message."""
    import time

    from assistant.workers import PoolService, WorkerPool

    settings = Settings(index_dir=tmp_path / "index", feedback_db=tmp_path / "f.sqlite3")
    ensure_index(settings, FakeEmbeddings())
    pool = PoolService(settings, WorkerPool(settings, 2, vectors=False))
    try:
        deadline = time.monotonic() + 120
        while pool.pool.ready() < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        question = "临时救助坚持什么原则？"
        assert not any(h.id.startswith("jn-fixture-rules:") for h in pool.search(question))
        assert "jn-fixture-rules:条款-3" not in pool.by_id
        Library(settings, FakeEmbeddings()).add(_copy(RULES, tmp_path / "in"))
        for _ in range(4):  # both workers, whichever takes each call
            hits = pool.search(question, 3, None, ["jn-fixture-rules"])
            assert hits and all(h.id.startswith("jn-fixture-rules:") for h in hits)
        assert "jn-fixture-rules:条款-3" in pool.by_id  # the front's source cards too
        (tmp_path / "empty.txt").write_bytes(b"")
        with pytest.raises(EmptyDocumentError) as e:
            pool.add_document(tmp_path / "empty.txt")
        assert "空" in e.value.message or "没有" in e.value.message
        with pytest.raises(LibraryError, match="默认文件"):
            pool.remove_document("jinan-2018-5")
    finally:
        pool.close()


def test_a_stored_file_gone_missing_leaves_the_rest_answering(tmp_settings, tmp_path):
    from assistant.service import Service

    lib = Library(tmp_settings, FakeEmbeddings())
    ensure_index(tmp_settings, lib.embeddings)
    lib.add(_copy(RULES, tmp_path / "in"))
    lib.add(_copy(NOTICE, tmp_path / "in"))
    (lib.dir / "jn-fixture-rules.txt").unlink()
    assert [d.id for d in lib.list()] == ["jinan-2018-5", "jn-fixture-notice"]
    svc = Service(tmp_settings, embeddings=FakeEmbeddings())
    a = svc.answer("散居孤儿每个月生活费多少？")
    assert a.answered and "1350元" in a.text


def test_parsed_records_are_kept_beside_the_file_and_give_the_same_records(lib, tmp_path):
    from assistant import documents

    lib.add(_copy(RULES, tmp_path / "in"))
    first = {r.id: (r.readable, r.text) for r in lib.records()}
    cached = list((lib.dir / ".parsed").glob("jn-fixture-rules-*.pkl"))
    assert len(cached) == 1
    documents._library_plan.cache_clear()  # a new process: from the parsed copy, same records
    assert {r.id: (r.readable, r.text) for r in lib.records()} == first
    assert first["jn-fixture-rules:条款-3"][0] == "《济南市临时救助实施办法》第三条"
    lib.remove("jn-fixture-rules")
    assert not list((lib.dir / ".parsed").glob("jn-fixture-rules-*"))


def test_reopening_an_unchanged_library_reads_parsed_copies_and_builds_no_chunk(
    lib, tmp_path, monkeypatch
):
    """A new process re-opens from the parsed copies and their chunk digests: nothing is
    parsed, no chunk is built, nothing is embedded; a changed .toml or file is noticed."""
    from assistant import chunks, documents, store

    lib.add(_copy(RULES, tmp_path / "in"))
    lib.add(_copy(NOTICE, tmp_path / "in"))
    m0 = json.loads(manifest_path(lib.settings).read_text())
    documents._library_plan.cache_clear()  # a new process

    def no_parse(*a, **kw):
        raise AssertionError("parsed again")

    def no_chunks(*a, **kw):
        raise AssertionError("chunks built")

    with monkeypatch.context() as m:
        m.setattr(documents, "load_document", no_parse)
        m.setattr(chunks, "build_chunks", no_chunks)
        m.setattr(store, "build_chunks", no_chunks)
        m.setattr(store, "document_chunks", no_chunks)
        plans = lib.plans()
        again = CountingEmbeddings()
        assert ensure_index(lib.settings, again, plans=plans) == m0
    assert again.texts == []
    assert {p.meta.id for p in plans} == {"jinan-2018-5", "jn-fixture-rules", "jn-fixture-notice"}

    # the cover facts edited (a new process): read again; the chunks do not name the issuer
    toml = lib.dir / "jn-fixture-notice.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace("济南市民政局", "济南市民政局（修订）"),
        encoding="utf-8",
    )
    documents._library_plan.cache_clear()
    issuer = next(p for p in lib.plans() if p.meta.id == "jn-fixture-notice").meta.issuer
    assert issuer == "济南市民政局（修订）"
    edited = CountingEmbeddings()
    assert ensure_index(lib.settings, edited) == m0 and edited.texts == []
    # the text edited: noticed by its size and time, its changed passage embedded
    stored = lib.dir / "jn-fixture-notice.txt"
    stored.write_text(
        stored.read_text(encoding="utf-8").replace("济南市", "济南市市区", 1), encoding="utf-8"
    )
    documents._library_plan.cache_clear()
    changed = CountingEmbeddings()
    m2 = ensure_index(lib.settings, changed)
    assert m2["documents"]["jn-fixture-notice"] != m0["documents"]["jn-fixture-notice"]
    assert m2["documents"]["jn-fixture-rules"] == m0["documents"]["jn-fixture-rules"]
    assert changed.texts and all("济南市市区" in t for t in changed.texts)
    # one parsed copy per file: the earlier versions' are gone
    assert len(documents.parsed_copies(stored)) == 1


def test_a_damaged_parsed_copy_is_parsed_again(lib, tmp_path):
    from assistant import documents

    lib.add(_copy(RULES, tmp_path / "in"))
    first = {r.id: r.text for r in lib.records()}
    (copy,) = documents.parsed_copies(lib.dir / "jn-fixture-rules.txt")
    copy.write_bytes(b"not a pickle")
    documents._library_plan.cache_clear()
    assert {r.id: r.text for r in lib.records()} == first
    assert copy.read_bytes() != b"not a pickle"  # written again


def test_passages_already_in_the_store_are_not_embedded_again(lib, tmp_path):
    """A document sharing passages word for word with another (a new version under a new id)
    embeds only the passages the store does not hold; the shared ones keep their vectors."""
    from assistant.chunks import build_chunks

    lib.add(_copy(RULES, tmp_path / "in"))
    text = RULES.read_text(encoding="utf-8")
    assert "应救尽救" in text
    v2 = tmp_path / "v2" / "rules-v2.txt"
    v2.parent.mkdir()
    v2.write_text(text.replace("应救尽救", "应救尽救、及时高效"), encoding="utf-8")
    lib.embeddings.texts.clear()
    info = lib.add(v2, doc_id="rules-v2")
    new = next(p for p in lib.plans() if p.meta.id == info.id)
    texts = {d.page_content for d in build_chunks(new.records)}
    old = next(p for p in lib.plans() if p.meta.id == "jn-fixture-rules")
    shared = texts & {d.page_content for d in build_chunks(old.records)}
    assert len(shared) >= len(texts) // 2  # the document is mostly the same text
    assert set(lib.embeddings.texts) == texts - shared
    col = get_collection(lib.settings)
    a = col.get(ids=["rules-v2:条款-1#0"], include=["embeddings", "documents"])
    b = col.get(ids=["jn-fixture-rules:条款-1#0"], include=["embeddings", "documents"])
    assert a["documents"] == b["documents"]
    assert list(a["embeddings"][0]) == list(b["embeddings"][0])
