"""The ingestion package: the seed through the general parser gives today's records exactly, as
text, as a .docx and as a .pdf made here; bad files are refused with a reason; fixtures parse."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from assistant.documents import DOMAINS, load_plans
from assistant.ingest import (
    DamagedFileError,
    EmptyDocumentError,
    EncryptedDocumentError,
    FileTooLargeError,
    IngestLimits,
    NoTextLayerError,
    StructureError,
    UnsupportedFormatError,
    formats,
    parse,
    read_document,
)
from assistant.ingest.cleaning import cn_to_int
from assistant.ingest.records import (
    LOCAL_ID_PATTERN,
    Article,
    ServiceItem,
    TableRow,
    readable_citation,
    split_citation,
)
from assistant.ingest.structure import cover

from .conftest import CORPUS, SOURCE
from .ingest_convert import cjk_font, write_docx, write_pdf

GOLDEN = Path(__file__).parent / "data" / "jinan-2018-5-records.jsonl"
FIXTURES = Path(__file__).parent / "fixtures" / "docs"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _dump(r) -> dict:
    return {"class": type(r).__name__, "readable": r.readable, "text": r.text, **r.model_dump()}


def _golden() -> list[dict]:
    return [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]


def _assert_seed_records(records, *, ordered: bool) -> None:
    """Record by record: id, kind, title, text, every field, against the plan-specific parser's."""
    gold = _golden()
    got = [_dump(r) for r in records]
    assert len(got) == len(gold) == 165
    if not ordered:  # the general parser keeps document order: 附件1's items before 附件2's tasks
        got.sort(key=lambda d: [g["id"] for g in gold].index(d["id"]))
    for want, have in zip(gold, got, strict=True):
        assert have["id"] == want["id"]
        diff = {k: (want[k], have.get(k)) for k in want if want[k] != have.get(k)}
        assert not diff, (want["id"], diff)


# ---------------------------------------------------------------- the seed, as text


def test_seed_through_the_product_is_todays_records_in_todays_order(plan):
    _assert_seed_records(plan.records, ordered=True)
    # the golden file was written by the plan-specific parser (commit ea1336e) before it went
    assert {r.kind for r in plan.records} == {"section", "box", "item", "task"}


def test_seed_through_read_document_gives_the_same_records():
    doc = read_document(SOURCE, domains=DOMAINS)
    _assert_seed_records(doc.records, ordered=False)
    assert doc.meta.id == "jinan-2018-5" and doc.format == "txt"
    assert sorted(doc.removed_noise) == sorted(load_plans(CORPUS)[0].removed_noise)


def test_seed_cover_facts_are_read_from_the_text():
    doc = read_document(SOURCE)
    c = doc.cover  # before the .toml's overrides
    assert c.doc_number == "济政发〔2018〕5号"
    assert c.issued == "2018-03-15"
    assert c.issuer == "济南市人民政府"
    assert c.period == "2016–2020"
    assert c.title == "济南市人民政府关于印发济南市推进基本公共服务均等化“十三五”规划的通知"
    assert doc.meta.title == "济南市推进基本公共服务均等化“十三五”规划"  # the .toml's


def test_toml_beside_the_file_overrides_cover_facts(tmp_path):
    text = "济南市民政局文件\n\n济民发〔2021〕9号\n\n关于某事的通知\n\n一、总则\n\n正文。\n\n济南市民政局\n\n2021年6月1日\n"
    src = tmp_path / "a-notice.txt"
    src.write_text(text, encoding="utf-8")
    doc = read_document(src)
    assert (doc.meta.id, doc.meta.issued, doc.meta.doc_number) == (
        "a-notice",
        "2021-06-01",
        "济民发〔2021〕9号",
    )
    assert doc.meta.issuer == "济南市民政局" and doc.meta.title == "关于某事的通知"
    src.with_suffix(".toml").write_text(
        'id = "other"\nissued = "2021-07-01"\nperiod = "2021–2025"\n', encoding="utf-8"
    )
    doc = read_document(src)
    assert (doc.meta.id, doc.meta.issued, doc.meta.period) == ("other", "2021-07-01", "2021–2025")
    assert doc.meta.doc_number == "济民发〔2021〕9号"  # not overridden: from the text


# ---------------------------------------------------------------- the seed, as .docx and .pdf


@pytest.fixture(scope="module")
def seed_text():
    return formats.read_text(SOURCE.read_text(encoding="utf-8"))


def _beside_toml(path: Path) -> None:
    shutil.copy(SOURCE.with_suffix(".toml"), path.with_suffix(".toml"))


def test_seed_as_docx_gives_the_seed_records(tmp_path, seed_text):
    path = write_docx(seed_text, tmp_path / "seed.docx")
    xml = _docx_xml(path)
    # real Word tables: a repeating header row, group labels merged across, shared cells merged down
    assert "w:tblHeader" in xml and "w:gridSpan" in xml and 'w:vMerge w:val="continue"' in xml
    assert "\t" not in xml
    _beside_toml(path)
    doc = read_document(path, domains=DOMAINS)
    assert doc.format == "docx"
    _assert_seed_records(doc.records, ordered=False)


def _docx_xml(path: Path) -> str:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return z.read("word/document.xml").decode("utf-8")


@pytest.fixture(scope="module")
def font():
    found = cjk_font()
    if found is None:
        pytest.skip(
            "no CJK font on this machine (Debian: apt-get install fonts-noto-cjk): "
            "the seed cannot be written as a PDF"
        )
    return found


def test_seed_as_pdf_gives_the_seed_records(tmp_path, seed_text, font):
    path = write_pdf(seed_text, tmp_path / "seed.pdf", font)
    _beside_toml(path)
    t = time.perf_counter()
    doc = read_document(path, domains=DOMAINS)
    elapsed = time.perf_counter() - t
    assert doc.format == "pdf"
    _assert_seed_records(doc.records, ordered=False)
    # page numbers in the footer and each page's repeated table header are not content
    assert any(re.fullmatch(r"— \d+ —", n) for n in doc.removed_noise)
    assert sum(n.startswith("序号") for n in doc.removed_noise) >= 10
    assert elapsed < 30, elapsed


def test_pdf_paragraphs_set_by_first_line_indent(tmp_path, font):
    """The usual 公文 layout: no space between paragraphs, each first line indented two characters."""
    from fpdf import FPDF
    from fpdf.enums import WrapMode

    pdf = FPDF()
    pdf.add_font("cjk", fname=font[0], collection_font_number=font[1])
    pdf.set_font("cjk", size=12)
    pdf.add_page()
    first = (
        "为了规范临时救助工作，解决城乡困难群众突发性、紧迫性、临时性基本生活困难，制定本办法。" * 2
    )
    second = "本办法所称临时救助，是指政府给予的应急性、过渡性救助，救助之后基本生活暂时仍有严重困难的家庭可以再次申请。"
    for text in ("一、总则", "第一条　" + first, "第二条　" + second, "短的一段。"):
        pdf.multi_cell(
            0, 7, "\u3000\u3000" + text, wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT"
        )
    pdf.output(str(tmp_path / "indented.pdf"))
    doc = read_document(tmp_path / "indented.pdf")
    by = doc.by_id()
    assert by["条款-1"].paragraphs == [first]
    assert by["条款-2"].paragraphs == [second, "短的一段。"]
    assert by["章节-一"].title == "总则"


# ---------------------------------------------------------------- refused files


def _refused(path: Path, error: type, limits: IngestLimits | None = None) -> str:
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    with pytest.raises(error) as info:
        read_document(path, limits=limits)
    assert CJK.search(info.value.message), info.value.message  # a Chinese reason
    assert info.value.file == path.name
    after = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    assert after == before  # nothing written, nothing changed
    return info.value.message


def test_scanned_pdf_without_text_layer_is_refused(tmp_path):
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(image).rectangle((40, 40, 360, 160), outline="black", width=5)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=150)  # a page scanned as a picture: no characters
    pdf.output(str(tmp_path / "scan.pdf"))
    assert "扫描" in _refused(tmp_path / "scan.pdf", NoTextLayerError)


def test_empty_files_are_refused(tmp_path, font):
    (tmp_path / "empty.txt").write_bytes(b"")
    _refused(tmp_path / "empty.txt", EmptyDocumentError)
    (tmp_path / "blank.md").write_text("\n  \n\t\n", encoding="utf-8")
    _refused(tmp_path / "blank.md", EmptyDocumentError)
    import docx

    docx.Document().save(tmp_path / "blank.docx")
    _refused(tmp_path / "blank.docx", EmptyDocumentError)


def test_encrypted_files_are_refused(tmp_path, font):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("cjk", fname=font[0], collection_font_number=font[1])
    pdf.set_font("cjk", size=12)
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.multi_cell(0, 8, "一、总则\n这份文件需要密码才能打开。")
    pdf.output(str(tmp_path / "locked.pdf"))
    assert "密码" in _refused(tmp_path / "locked.pdf", EncryptedDocumentError)
    # an encrypted .docx is an OLE container holding an EncryptedPackage stream
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500 + "EncryptedPackage".encode("utf-16-le")
    (tmp_path / "locked.docx").write_bytes(ole + b"\0" * 500)
    assert "密码" in _refused(tmp_path / "locked.docx", EncryptedDocumentError)


def test_pdf_with_only_an_owner_password_still_reads(tmp_path, font):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("cjk", fname=font[0], collection_font_number=font[1])
    pdf.set_font("cjk", size=12)
    pdf.set_encryption(owner_password="owner")  # printing restrictions, opens without a password
    pdf.add_page()
    pdf.multi_cell(0, 8, "第一条　为了测试，制定本办法。")
    pdf.output(str(tmp_path / "restricted.pdf"))
    doc = read_document(tmp_path / "restricted.pdf")
    assert doc.by_id()["条款-1"].text == "为了测试，制定本办法。"


def test_oversize_files_are_refused(tmp_path):
    src = tmp_path / "big.txt"
    src.write_text("一、总则\n\n" + "正文。" * 2000, encoding="utf-8")
    assert "超过上限" in _refused(src, FileTooLargeError, IngestLimits(max_bytes=10_000))
    read_document(src, limits=IngestLimits(max_bytes=100_000))  # under the limit: reads


def test_too_many_pdf_pages_are_refused(tmp_path, font):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("cjk", fname=font[0], collection_font_number=font[1])
    pdf.set_font("cjk", size=12)
    for i in range(3):
        pdf.add_page()
        pdf.cell(0, 10, f"第{i + 1}页")
    pdf.output(str(tmp_path / "long.pdf"))
    assert "页" in _refused(tmp_path / "long.pdf", FileTooLargeError, IngestLimits(max_pages=2))


@pytest.mark.parametrize(
    "name,content,error",
    [
        ("old.doc", b"\xd0\xcf\x11\xe0 anything", UnsupportedFormatError),
        ("sheet.xlsx", b"PK\x03\x04 anything", UnsupportedFormatError),
        ("noext", "一、总则".encode(), UnsupportedFormatError),
        ("word97.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, UnsupportedFormatError),
        ("pdf-in-disguise.txt", b"%PDF-1.4\n1 0 obj", UnsupportedFormatError),
        ("broken.pdf", b"%PDF-1.7\n%garbage, cut short", DamagedFileError),
        ("notzip.docx", "一、总则".encode(), DamagedFileError),
        ("latin1.txt", "caf\xe9 \xff\xfe\xfd".encode("latin-1") * 3, DamagedFileError),
    ],
)
def test_unsupported_or_damaged_files_are_refused(tmp_path, name, content, error):
    (tmp_path / name).write_bytes(content)
    _refused(tmp_path / name, error)


def test_gb18030_text_reads(tmp_path):
    src = tmp_path / "gbk.txt"
    src.write_bytes("一、总则\n\n第一条 本办法适用于全市。\n".encode("gb18030"))
    assert read_document(src).by_id()["条款-1"].text == "本办法适用于全市。"


# ---------------------------------------------------------------- structure in general


def _doc(text: str, **kw):
    return parse(formats.read_text(text), **kw)


def test_articles_under_chapters():
    doc = _doc(
        "某市某办法\n\n第一章　总则\n\n第一条　为了规范管理，制定本办法。\n\n"
        "第二条　本办法适用于：\n\n（一）甲；\n\n（二）乙。\n\n第二章　附则\n\n"
        "第十五条　本办法自2021年1月1日起施行。\n",
        default_id="rules",
    )
    by = doc.by_id()
    first, second, last = by["条款-1"], by["条款-2"], by["条款-15"]
    assert isinstance(last, Article) and last.label == "第十五条" and last.number == 15
    assert first.text == "为了规范管理，制定本办法。"
    assert second.paragraphs == ["本办法适用于：", "（一）甲；", "（二）乙。"]  # items stay in it
    assert second.path == ["某市某办法", "第一章 总则", "第二条"]
    assert last.path[1] == "第二章 附则" and last.readable == "第十五条"
    assert "章节-第一章" in by and "章节-一（一）" not in by
    assert doc.meta.title == "某市某办法"


def test_numbered_headings_and_paragraph_titles():
    doc = _doc(
        "一、总体要求\n\n（一）基本原则。坚持公平。\n\n1. 注重保障基本。保基本。\n\n（1）细项。\n"
        "\n二、保障措施\n\n（一）加强领导。\n"
    )
    by = doc.by_id()
    assert [r.id for r in doc.records if r.kind == "section"] == [
        "章节-序言",
        "章节-一",
        "章节-一（一）",
        "章节-二",
        "章节-二（一）",
    ]
    sec = by["章节-一（一）"]
    assert sec.title == "基本原则"
    assert [p.title for p in sec.paragraphs] == ["基本原则", "注重保障基本", "细项"]
    assert by["章节-二（一）"].paragraphs == []  # a heading with no text after its title


def test_annex_table_rows_carry_their_header_labels():
    doc = _doc(
        "关于调整标准的通知\n\n一、调整内容\n\n见附件。\n\n附件 1\n\n调整后的标准\n\n"
        "序号\t项目\t原标准\t新标准\n一、救助类\t\t\t\n1\t散居孤儿\t1120元\t1350元\n"
        "2\t集中养育孤儿\t1410元\t1700元\n二、津贴类\t\t\t\n3\t高龄津贴\t100元\t150元\n"
    )
    rows = [r for r in doc.records if isinstance(r, TableRow)]
    assert [r.id for r in rows] == ["附件1-1", "附件1-2", "附件1-3"]
    orphans = rows[0]
    assert orphans.fields() == [
        ("分组", "一、救助类"),
        ("序号", "1"),
        ("项目", "散居孤儿"),
        ("原标准", "1120元"),
        ("新标准", "1350元"),
    ]
    assert orphans.title == "散居孤儿" and rows[2].group == "二、津贴类"
    assert orphans.path == ["关于调整标准的通知", "附件1 调整后的标准", "第1行"]
    assert orphans.readable == "附件1第1行「散居孤儿」"


def test_service_list_and_task_tables_anywhere_are_items_and_tasks():
    doc = _doc(
        "附件 3\n\n某清单\n\n序号\t服务项目\t服务对象\t服务指导标准\t支出责任\t牵头负责单位\n"
        "一、基本社会服务\t\t\t\t\t\n1\t孤儿养育保障\t孤儿\t每月1350元。\t市财政。\t市民政局\n"
        "\n附件 4\n\n分工\n\n序号\t重点任务\t责任单位\n1\t落实标准。\t市民政局\n"
    )
    item, task = doc.by_id()["清单-1"], doc.by_id()["分工-1"]
    assert isinstance(item, ServiceItem) and item.domain == "基本社会服务"
    assert item.standard == "每月1350元。" and item.path[1:] == [
        "附件3 某清单",
        "一、基本社会服务",
        "第1项 孤儿养育保障",
    ]
    assert task.units == "市民政局"


def test_text_after_a_service_list_table_is_an_error_with_its_line():
    raw = "附件 1\n\n清单\n\n序号\t服务项目\t服务对象\t服务指导标准\t支出责任\t牵头负责单位\n1\t甲\t乙\t丙。\t丁。\t戊\n孤零零的一句话。\n"
    with pytest.raises(StructureError, match="第7行"):
        _doc(raw)


def test_duplicate_ids_are_an_error():
    with pytest.raises(StructureError, match="条款-1"):
        _doc("第一条 甲。\n\n第一条 乙。\n")


def test_group_label_that_lost_its_cell_borders_stays_in_the_table():
    doc = _doc(
        "附件 1\n\n表\n\n序号\t项目\t标准\n1\t甲\t10元\n\n二、另一组\n\n2\t乙\t20元\n",
        default_id="x",
    )
    rows = [r for r in doc.records if isinstance(r, TableRow)]
    assert [(r.number, r.group) for r in rows] == [(1, None), (2, "二、另一组")]


def test_closing_block_is_not_content():
    doc = _doc("一、总则\n\n正文。\n\n抄送：市委各部门。\n\n某办公厅 2021年6月1日印发\n")
    blob = " ".join(r.text for r in doc.records)
    assert "抄送" not in blob and "印发" not in blob
    assert any(n.startswith("抄送") for n in doc.removed_noise)


def test_markdown_headings_and_pipe_tables():
    doc = parse(
        formats.read_text(
            "# 某通知\n\n## 一、总则\n\n正文**重点**。\n\n附件 1\n\n标准表\n\n"
            "| 序号 | 项目 | 标准 |\n|---|---|---|\n| 1 | 甲 | 10元 |\n",
            markdown=True,
        )
    )
    by = doc.by_id()
    assert by["章节-一"].title == "总则" and by["章节-一"].text == "正文重点。"
    assert by["附件1-1"].fields()[-1] == ("标准", "10元")


def test_cover_facts_in_chinese_numerals_and_signature():
    from assistant.ingest.structure import Para

    c = cover(
        [
            Para("关于做好某项工作的意见"),
            Para("正文。"),
            Para("济南市民政局"),
            Para("二〇二一年六月一日"),
        ]
    )
    assert (c.issued, c.issuer, c.title) == ("2021-06-01", "济南市民政局", "关于做好某项工作的意见")


def test_chinese_numerals():
    assert [cn_to_int(x) for x in ("一", "十", "十五", "二十", "二十三", "一百零三", "12")] == [
        1,
        10,
        15,
        20,
        23,
        103,
        12,
    ]


def test_citation_ids_across_documents():
    assert split_citation("jn-fixture-notice:条款-3") == ("jn-fixture-notice", "条款-3")
    assert split_citation("清单-56") == (None, "清单-56")
    for ok in ("条款-3", "附件1-12", "章节-第二章", "章节-附件1", "清单-56", "章节-三（五）"):
        assert LOCAL_ID_PATTERN.match(ok), ok
    for bad in ("条款-0", "附件-3", "章节-", "foo-1"):
        assert not LOCAL_ID_PATTERN.match(bad), bad
    assert readable_citation("jinan-2018-5:清单-56", "孤儿养育保障") == "清单第56项「孤儿养育保障」"


# ---------------------------------------------------------------- fixture documents

FIXTURE_DOCS = sorted(p for p in FIXTURES.glob("*.txt"))


def test_there_are_two_fixture_documents_marked_as_such():
    assert len(FIXTURE_DOCS) >= 2
    for path in FIXTURE_DOCS:
        assert "【测试用虚构文件，非真实政策】" in path.read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize("path", FIXTURE_DOCS, ids=lambda p: p.stem)
def test_fixture_question_set_cites_only_what_its_document_holds(path):
    doc = read_document(path)
    ids = set(doc.by_id())
    questions = [
        json.loads(line)
        for line in path.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert len(questions) >= 30
    assert len({q["id"] for q in questions}) == len(questions)
    answerable = [q for q in questions if q["answerable"]]
    assert len(answerable) >= 20 and len(questions) - len(answerable) >= 3
    for q in questions:
        assert q["question"].strip() and isinstance(q["key_facts"], list), q["id"]
        if q["answerable"]:
            assert q["citations"] and q["key_facts"], q["id"]
        texts = []
        for cid in q["citations"]:
            docid, local = split_citation(cid)
            assert docid == doc.meta.id, (q["id"], cid)
            assert local in ids, (q["id"], cid, sorted(ids))
            assert LOCAL_ID_PATTERN.match(local), (q["id"], cid)
            texts.append(_fold(doc.by_id()[local].text))
        for fact in q["key_facts"]:  # printed in one of the cited records, as EVAL_FORMAT compares
            assert any(_fold(fact) in t for t in texts), (q["id"], fact)


def _fold(text: str) -> str:
    text = re.sub(r"\s", "", text)
    return "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in text)


def test_fixture_notice_updates_the_plans_amounts():
    (notice,) = [p for p in FIXTURE_DOCS if "notice" in p.stem]
    doc = read_document(notice)
    assert doc.meta.issued.startswith("2021-") and "〔2021〕" in doc.meta.doc_number
    assert doc.meta.issuer and doc.meta.title.endswith("通知")
    blob = "\n".join(r.text for r in doc.records)
    assert "1120元" in blob  # names the plan's amount it replaces
    assert any(isinstance(r, TableRow) for r in doc.records)


def test_fixture_rules_have_at_least_fifteen_articles():
    (rules,) = [p for p in FIXTURE_DOCS if "rules" in p.stem]
    doc = read_document(rules)
    articles = [r for r in doc.records if isinstance(r, Article)]
    assert len(articles) >= 15
    assert [a.number for a in articles] == list(range(1, len(articles) + 1))
    assert doc.meta.doc_number and doc.meta.issued


def test_fixture_documents_read_the_same_as_docx(tmp_path):
    for path in FIXTURE_DOCS:
        text = formats.read_text(path.read_text(encoding="utf-8"))
        out = write_docx(text, tmp_path / f"{path.stem}.docx")
        if path.with_suffix(".toml").exists():
            shutil.copy(path.with_suffix(".toml"), out.with_suffix(".toml"))
        want = [_dump(r) for r in read_document(path).records]
        got = [_dump(r) for r in read_document(out).records]
        assert got == want, path.name


def test_ingest_has_no_side_effects_on_the_corpus(tmp_path):
    before = {p.name: os.stat(p).st_mtime_ns for p in CORPUS.iterdir()}
    read_document(SOURCE, domains=DOMAINS)
    assert {p.name: os.stat(p).st_mtime_ns for p in CORPUS.iterdir()} == before
