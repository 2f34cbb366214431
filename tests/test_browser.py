"""The page in a real browser: Playwright driving Debian's Chromium, headless, on loopback only."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("POLICYQA_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent.parent / "artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


def launch_chromium(p):
    """Debian's Chromium, headless, with nothing of its own that would go online."""
    return p.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


def open_page(ctx, url: str):
    """A page of the app that records every request leaving the machine and every dialog;
    returns once the question box is there."""
    pg = ctx.new_page()
    pg.outside = []  # every request that left the machine
    pg.dialogs = []
    pg.on(
        "request",
        lambda r: (
            pg.outside.append(r.url)
            if urlparse(r.url).hostname not in {"127.0.0.1", "localhost", None}
            and r.url.startswith("http")
            else None
        ),
    )
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(url, wait_until="domcontentloaded")  # gradio keeps a connection open
    pg.locator("#question textarea").wait_for(timeout=60_000)
    return pg


@pytest.fixture(scope="module")
def page(live):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        ctx = browser.new_context(viewport={"width": 1100, "height": 1400}, locale="zh-CN")
        yield open_page(ctx, live.url + "/")
        ctx.close()
        browser.close()


def answers_shown(page) -> int:
    return int(page.locator("#answer-status [data-answers]").get_attribute("data-answers"))


def wait_answered(page, n: int) -> None:
    """Until the status line says the n-th answer of the conversation is complete."""
    done = f'#answer-status [data-answers="{n}"][data-busy="0"]'
    try:
        page.locator(done).wait_for(state="attached", timeout=60_000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
        raise


def last_answer(page) -> str:
    return page.locator("#chat .message-row, #chat [data-testid='bot']").last.inner_text()


def ask(page, question: str) -> str:
    """Type a question, send it, and wait until the page says this answer is complete (its
    status line counts one more finished answer). Returns the answer's text."""
    before = answers_shown(page)
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    wait_answered(page, before + 1)
    return last_answer(page)


def test_ask_open_source_follow_up_feedback_search(page, live, service):
    answer = ask(page, "散居孤儿每个月生活费多少？")
    assert "1120元" in answer and "清单第56项" in answer and "2016–2020" in answer
    page.screenshot(path=str(ARTIFACTS / "01-answer.png"), full_page=True)

    card = page.locator('#sources details[data-id="清单-56"]')
    card.locator("summary").click()
    assert card.get_attribute("open") is not None
    assert "1410元" in card.inner_text() and "市民政局" in card.inner_text()
    page.screenshot(path=str(ARTIFACTS / "02-source-card.png"), full_page=True)

    # a follow-up that names no subject: only the conversation says it is about 孤儿养育保障
    follow = ask(page, "那谁出钱？")
    assert "支出责任" in follow and "清单第56项" in follow

    page.locator("#fb-comment textarea").fill("很有用，我的电话13812345678")
    page.locator("#fb-up").click()
    page.locator("#fb-status").get_by_text("已记录").wait_for(timeout=15_000)
    rows = (
        sqlite3.connect(service.settings.feedback_db)
        .execute("SELECT rating, question, comment, citations FROM feedback")
        .fetchall()
    )
    assert rows[-1][0] == "up" and rows[-1][1] == "那谁出钱？"  # the answer on screen
    assert "13812345678" not in rows[-1][2] and "清单-56" in rows[-1][3]
    page.screenshot(path=str(ARTIFACTS / "03-follow-up-feedback.png"), full_page=True)

    page.get_by_role("tab", name="查询").click()
    page.locator("#lookup-q textarea").fill("孤儿养育")
    page.locator("#card").get_by_text("孤儿养育保障").first.wait_for(timeout=20_000)
    assert "1120元" in page.locator("#card").inner_text()
    assert "清单第56项" in page.locator("#copy-text textarea").input_value()
    page.screenshot(path=str(ARTIFACTS / "04-lookup.png"), full_page=True)
    assert page.outside == [], f"the page loaded something from outside: {page.outside[:3]}"


def test_restart_then_typing_at_once_keeps_every_character(page):
    page.get_by_role("tab", name="问答").click()
    page.locator("#clear").click()
    page.locator('#answer-status [data-answers="0"]').wait_for(state="attached", timeout=15_000)
    payload = "<img src=x onerror=alert(1)>婚检要钱吗？"
    answer = ask(page, payload)
    assert "婚前医学检查" in answer
    assert page.dialogs == []
    assert "<img src=x onerror=alert(1)>" in page.locator("#chat").inner_text()
    assert page.locator("#chat img[src='x']").count() == 0

    # the chat's own clear button starts over as 重新开始 does (status, sources, feedback state)
    page.locator("#chat").get_by_role("button", name="清空对话").click()  # zh-CN browser
    page.locator('#answer-status [data-answers="0"]').wait_for(state="attached", timeout=15_000)
    assert page.locator("#sources details").count() == 0


# ------------------------------------------------------------------ documents (issue 13)

ADMIN_KEY = "browser-test-admin-key-6f1c"
NOTICE = Path(__file__).parent / "fixtures" / "docs" / "jn-fixture-notice.txt"
NOTICE_ID = "jn-fixture-notice"  # from the file's name: the upload sends the .docx alone


@pytest.fixture(scope="module")
def admin_live(live, service):
    """The same service behind a second server whose settings hold an administrator's key."""
    from pydantic import SecretStr

    from assistant.server import create_app
    from tests.conftest import LiveServer, free_port

    settings = service.settings.model_copy(update={"admin_key": SecretStr(ADMIN_KEY)})
    with LiveServer(create_app(service, settings), free_port()) as srv:
        yield srv


def cells(pg, selector: str) -> list[str]:
    """A table's cells as shown, one per line of its text."""
    return [c.strip() for c in pg.locator(selector).inner_text().split("\n") if c.strip()]


def listed_ids(pg) -> list[str]:
    """The 编号 column of the 文件 tab's table: the cells that are document ids."""
    return [c for c in cells(pg, "#doc-list") if re.fullmatch(r"[a-z0-9-]*[a-z][a-z0-9-]*", c)]


def wait_text(pg, selector: str, text: str, timeout: int = 60_000) -> None:
    pg.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
        arg=[selector, text],
        timeout=timeout,
    )


def test_an_administrator_uploads_a_docx_asks_it_sees_its_name_then_removes_it(
    page, admin_live, service, tmp_path
):
    from assistant.ingest.formats import read_file
    from tests.ingest_convert import write_docx

    docx = write_docx(read_file(NOTICE), tmp_path / f"{NOTICE_ID}.docx")  # made by the suite
    bad = tmp_path / "扫描件.pdf"
    bad.write_bytes(b"%PDF-1.4\n% a damaged file\n" * 20)
    before = [d.id for d in service.library.list()]
    pg = open_page(page.context, admin_live.url + "/")
    try:
        pg.get_by_role("tab", name="文件").click()
        wait_text(pg, "#doc-list", "济政发〔2018〕5号")
        assert listed_ids(pg) == before
        assert pg.locator("#doc-file").is_hidden()  # no upload before the key is given

        pg.locator("#admin-key input").fill("not-the-key")
        pg.locator("#admin-login").click()
        wait_text(pg, "#admin-status", "不正确")
        assert pg.locator("#doc-file").is_hidden()
        pg.locator("#admin-key input").fill(ADMIN_KEY)
        pg.locator("#admin-login").click()
        pg.locator("#doc-file").wait_for(state="visible", timeout=20_000)

        pg.locator("#doc-file").set_input_files(str(docx))
        pg.locator("#doc-upload").click()
        wait_text(pg, "#doc-status", "已添加")
        wait_text(pg, "#doc-list", NOTICE_ID)
        assert "济民发〔2021〕12号" in pg.locator("#doc-list").inner_text()
        after = listed_ids(pg)
        assert after == [d.id for d in service.library.list()] and NOTICE_ID in after
        pg.screenshot(path=str(ARTIFACTS / "05-documents.png"), full_page=True)

        # a bad file: a message, and the list as it was
        pg.locator("#doc-file").set_input_files(str(bad))
        pg.locator("#doc-upload").click()
        wait_text(pg, "#doc-status", "未能添加")
        status = pg.locator("#doc-status").inner_text()
        assert "文件库没有改变" in status and "Traceback" not in status
        assert listed_ids(pg) == after == [d.id for d in service.library.list()]

        # the new document answers, and the citation names it
        pg.get_by_role("tab", name="问答").click()
        answer = ask(pg, "高龄津贴怎么发放？可以发实物吗？")  # only the notice says
        assert "社会保障卡" in answer and "不得以实物代替" in answer
        assert "《提高孤儿基本生活保障标准和发放高龄津贴的通知》" in answer
        cited = pg.locator(f'#sources details[data-id^="{NOTICE_ID}:"]').first
        assert "通知》" in cited.locator("summary").inner_text()

        # 查询 limited to the new document finds only its records
        pg.get_by_role("tab", name="查询").click()
        pg.locator("#doc-filter input").click()
        pg.get_by_role("option", name="提高孤儿基本生活保障标准", exact=False).first.click()
        pg.locator("#lookup-q textarea").fill("高龄津贴")
        wait_text(pg, "#lookup-results", f"{NOTICE_ID}:")
        # every citation ID shown (the seed's are bare: 清单-56, 章节-三) is the notice's
        ids = [
            c for c in cells(pg, "#lookup-results") if re.match(r"[a-z0-9-]+:|[\u4e00-\u9fff]+-", c)
        ]
        assert ids and all(i.startswith(f"{NOTICE_ID}:") for i in ids)

        # removal asks first; cancelling keeps it, confirming removes it
        pg.get_by_role("tab", name="文件").click()
        pg.locator("#doc-remove-pick input").click()
        pg.get_by_role("option", name=NOTICE_ID, exact=False).first.click()
        pg.locator("#doc-remove").click()
        wait_text(pg, "#doc-confirm-text", "确定删除")
        pg.locator("#doc-cancel").click()
        pg.locator("#doc-confirm").wait_for(state="hidden", timeout=20_000)
        assert NOTICE_ID in [d.id for d in service.library.list()]
        pg.locator("#doc-remove").click()
        pg.locator("#doc-confirm").click()
        wait_text(pg, "#doc-status", "已删除")
        pg.wait_for_function(
            "(id) => !document.querySelector('#doc-list').innerText.includes(id)", arg=NOTICE_ID
        )
        assert listed_ids(pg) == before == [d.id for d in service.library.list()]
        assert pg.outside == [] and pg.dialogs == []
    finally:
        if NOTICE_ID in [d.id for d in service.library.list()]:
            service.remove_document(NOTICE_ID)  # the other tests share this service
        pg.close()
