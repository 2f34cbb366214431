"""长辈版 and accessibility of the page, in a real browser: axe-core on both tabs in both modes
(desktop and 390 px), the whole conversation by keyboard alone, the 长辈版 sizes and memory, and
朗读 through the browser's own speech synthesis. Headless Debian Chromium on loopback only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests import test_browser
from tests.test_browser import (
    ADMIN_KEY,
    ARTIFACTS,
    CHROMIUM,
    last_answer,
    launch_chromium,
    open_page,
    wait_answered,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]

admin_live = test_browser.admin_live  # the server with an administrator's key (a fixture)
DESKTOP = {"width": 1100, "height": 1400}
PHONE = {"width": 390, "height": 844}
QUESTION = "散居孤儿每个月生活费多少？"
SOURCE = '#sources details[data-id="清单-56"]'


@pytest.fixture(scope="module")
def browser(live):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def new_context(browser):
    """Fresh browser profiles: nothing remembered from another test."""
    made = []

    def make(**options):
        made.append(browser.new_context(**{"viewport": DESKTOP, "locale": "zh-CN", **options}))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def ctx(new_context):
    return new_context()


def ask_and_open_source(pg) -> str:
    pg.locator("#question textarea").fill(QUESTION)
    pg.locator("#send").click()
    wait_answered(pg, 1)
    pg.locator(f"{SOURCE} summary").click()
    assert pg.locator(SOURCE).get_attribute("open") is not None
    return last_answer(pg)


def is_elder(pg) -> bool:
    return pg.evaluate("document.documentElement.classList.contains('elder')")


def switch_checked(pg, on: bool) -> None:
    """Until the 长辈版 switch shows the mode (the page sets it from the mode once it loads)."""
    pg.wait_for_function(
        "(on) => document.querySelector('#elder-toggle input').checked === on", arg=on
    )


# ------------------------------------------------------------------ axe-core, 390 px


def axe_serious(pg, label: str, log: dict) -> list[str]:
    """Critical and serious axe-core violations of the page as it is now (all kept in the log)."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(pg).response["violations"]
    log[label] = [{"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])} for v in found]
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in {"critical", "serious"}
    ]


def layout_breaks(pg) -> list[str]:
    """What sticks out of the viewport sideways: the page itself, or any visible control
    (a table may scroll inside itself; the page must not)."""
    return pg.evaluate(
        """() => {
        const w = window.innerWidth, out = [];
        if (document.documentElement.scrollWidth > w) out.push('page ' + document.documentElement.scrollWidth);
        for (const e of document.querySelectorAll('button, textarea, input, summary, [role=tab], label')) {
          const r = e.getBoundingClientRect();
          if (r.width && r.height && getComputedStyle(e).visibility !== 'hidden'
              && (r.left < -1 || r.right > w + 1))
            out.push(e.tagName + ' ' + (e.innerText || e.getAttribute('aria-label') || '').slice(0, 20)
                     + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
        }
        return out;
      }"""
    )


@pytest.mark.parametrize(
    ("mode", "scheme"),
    [("normal", "light"), ("elder", "light"), ("normal", "dark"), ("elder", "dark")],
)
def test_axe_finds_nothing_serious_on_both_tabs_and_nothing_breaks_at_390px(
    new_context, live, mode, scheme
):
    """In both modes, and with the system set to light or to dark colours."""
    pg = open_page(new_context(color_scheme=scheme), f"{live.url}/?mode={mode}")
    assert is_elder(pg) == (mode == "elder")
    switch_checked(pg, mode == "elder")
    # 长辈版 is black on white whatever the system's colours; normal mode follows the system
    dark = pg.evaluate("document.body.classList.contains('dark')")
    assert dark == (scheme == "dark" and mode == "normal")
    answer = ask_and_open_source(pg)
    assert "1120元" in answer
    # 朗读 is offered exactly when the browser has a local Chinese voice (headless: usually none)
    local_zh = pg.evaluate(
        "speechSynthesis.getVoices().some(v => v.localService && /^(zh|cmn|yue)/i.test(v.lang))"
    )
    assert pg.locator("#read-aloud").is_visible() == local_zh

    log: dict = {}
    problems = {"问答 desktop": axe_serious(pg, "问答 desktop", log)}
    pg.screenshot(path=str(ARTIFACTS / f"{mode}-{scheme}-desktop.png"))
    pg.set_viewport_size(PHONE)
    problems["问答 390px"] = axe_serious(pg, "问答 390px", log) + layout_breaks(pg)
    pg.screenshot(path=str(ARTIFACTS / f"{mode}-{scheme}-390.png"))

    pg.get_by_role("tab", name="查询").click()
    pg.locator("#lookup-q textarea").fill("孤儿养育")
    pg.locator("#card").get_by_text("孤儿养育保障").first.wait_for(timeout=20_000)
    problems["查询 390px"] = axe_serious(pg, "查询 390px", log) + layout_breaks(pg)
    pg.screenshot(path=str(ARTIFACTS / f"{mode}-{scheme}-390-lookup.png"))
    pg.set_viewport_size(DESKTOP)
    problems["查询 desktop"] = axe_serious(pg, "查询 desktop", log)

    pg.get_by_role("tab", name="文件").click()  # read-only here: no administrator's key is set
    pg.locator("#doc-mode").get_by_text("只读").wait_for(timeout=20_000)
    problems["文件 desktop"] = axe_serious(pg, "文件 desktop", log)
    pg.set_viewport_size(PHONE)
    problems["文件 390px"] = axe_serious(pg, "文件 390px", log) + layout_breaks(pg)
    pg.screenshot(path=str(ARTIFACTS / f"{mode}-{scheme}-390-docs.png"))
    pg.set_viewport_size(DESKTOP)

    (ARTIFACTS / f"axe-{mode}-{scheme}.json").write_text(json.dumps(log, ensure_ascii=False))
    assert {k: v for k, v in problems.items() if v} == {}
    assert is_elder(pg) == (mode == "elder")  # the mode held through the whole conversation
    assert pg.outside == [], f"the page loaded something from outside: {pg.outside[:3]}"
    if mode == "elder" and scheme == "dark":  # switched off: the system's dark colours return
        pg.get_by_text("长辈版（大字、高对比）").click()
        pg.wait_for_function("document.body.classList.contains('dark')")


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_axe_finds_nothing_serious_in_the_administrators_document_tools(
    new_context, admin_live, mode
):
    """The 文件 tab with an administrator's key set: the key box, then the upload and removal
    tools with the removal's confirmation, at desktop width and at 390 px."""
    pg = open_page(new_context(), f"{admin_live.url}/?mode={mode}")
    pg.get_by_role("tab", name="文件").click()
    pg.locator("#admin-key input").fill(ADMIN_KEY)
    pg.locator("#admin-key input").press("Enter")  # by keyboard: Enter checks the key
    pg.locator("#doc-file").wait_for(state="visible", timeout=20_000)
    pg.locator("#doc-remove").click()  # nothing chosen: a message, no confirmation
    pg.locator("#doc-status").get_by_text("请先选择").wait_for(timeout=20_000)
    log: dict = {}
    problems = {"文件 admin desktop": axe_serious(pg, "文件 admin desktop", log)}
    pg.set_viewport_size(PHONE)
    problems["文件 admin 390px"] = axe_serious(pg, "文件 admin 390px", log) + layout_breaks(pg)
    pg.screenshot(path=str(ARTIFACTS / f"{mode}-390-docs-admin.png"), full_page=True)
    (ARTIFACTS / f"axe-docs-admin-{mode}.json").write_text(json.dumps(log, ensure_ascii=False))
    assert {k: v for k, v in problems.items() if v} == {}
    # the file input is named for screen readers, and takes the formats the library reads
    assert pg.locator("#doc-file").get_attribute("accept") == ".txt,.md,.markdown,.docx,.pdf"
    assert pg.get_by_label("选择文件（.txt、.md、.docx 或文字版 .pdf）").count() == 1


# ------------------------------------------------------------------ 长辈版


def sizes(pg) -> dict:
    """Computed font size, line height and box height of what 长辈版 must enlarge."""
    return pg.evaluate(
        """() => {
        const m = (sel) => {
          const e = document.querySelector(sel), s = getComputedStyle(e);
          return {font: parseFloat(s.fontSize), line: parseFloat(s.lineHeight),
                  height: e.getBoundingClientRect().height, color: s.color};
        };
        return {answer: m('#chat [data-testid="bot"] .message-content p'),
                input: m('#question textarea'), source: m('#sources details .body'),
                send: m('#send'), up: m('#fb-up'), summary: m('#sources summary')};
      }"""
    )


def test_elder_mode_enlarges_text_and_buttons_keeps_content_and_is_remembered(ctx, live):
    pg = open_page(ctx, live.url + "/")
    assert not is_elder(pg)  # a first visit without the parameter: normal
    answer = ask_and_open_source(pg)
    normal = sizes(pg)
    buttons = pg.get_by_role("button").all_inner_texts()

    pg.get_by_text("长辈版（大字、高对比）").click()  # the visible switch
    pg.wait_for_function("document.documentElement.classList.contains('elder')")
    elder = sizes(pg)
    for part in ("answer", "input"):
        assert elder[part]["font"] >= 1.5 * normal[part]["font"], (part, normal, elder)
    for part in ("answer", "input", "source", "summary"):
        assert elder[part]["line"] >= 1.3 * elder[part]["font"], (part, elder)
    for part in ("send", "up"):
        assert elder[part]["height"] >= 48 and elder[part]["height"] > normal[part]["height"]
    assert elder["answer"]["color"] == "rgb(0, 0, 0)"  # black on white (axe checks every pair)
    # the same conversation, the same controls: only the presentation changed
    assert last_answer(pg) == answer and pg.get_by_role("button").all_inner_texts() == buttons
    assert pg.locator(SOURCE).get_attribute("open") is not None

    # remembered in this browser: a reload without the parameter keeps 长辈版
    pg.reload(wait_until="domcontentloaded")
    pg.locator("#question textarea").wait_for()
    assert is_elder(pg)
    switch_checked(pg, True)
    # and the parameter switches back (and is remembered in turn)
    pg.goto(live.url + "/?mode=normal", wait_until="domcontentloaded")
    pg.locator("#question textarea").wait_for()
    assert not is_elder(pg)
    switch_checked(pg, False)
    assert pg.evaluate("localStorage.getItem('policyqa.mode')") == "normal"


# ------------------------------------------------------------------ keyboard alone

FOCUS_RING = """(e) => {
    const s = getComputedStyle(e);
    return e === document.activeElement && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
}"""


def tab_to(pg, target, key: str = "Tab", limit: int = 40) -> int:
    """Press Tab (or Shift+Tab) until the target has the focus, as a keyboard user would; the
    focused control must show a focus ring. Returns the number of presses."""
    for presses in range(1, limit + 1):
        pg.keyboard.press(key)
        if target.evaluate("(e) => e === document.activeElement"):
            assert target.evaluate(FOCUS_RING), "focus is not visible"
            return presses
    raise AssertionError(f"{target} not reached by {key} in {limit} presses")


def test_keyboard_alone_ask_open_source_follow_up_feedback_switch_tab_and_mode(ctx, live, service):
    pg = open_page(ctx, live.url + "/")
    # the controls, found by the names a screen reader announces
    box = pg.get_by_role("textbox", name="您的问题（按回车发送）")
    up = pg.get_by_role("button", name="👍 有帮助")
    lookup_tab = pg.get_by_role("tab", name="查询")
    switch = pg.get_by_role("checkbox", name="长辈版（大字、高对比）")
    summary = pg.locator(f"{SOURCE} summary")

    assert tab_to(pg, box) <= 5  # the question box is a few keys from the top of the page
    pg.keyboard.type(QUESTION)
    pg.keyboard.press("Enter")
    wait_answered(pg, 1)
    assert "1120元" in last_answer(pg)

    tab_to(pg, summary)
    pg.keyboard.press("Enter")
    assert pg.locator(SOURCE).get_attribute("open") is not None
    assert pg.locator(f"{SOURCE} .body").is_visible()

    tab_to(pg, box, key="Shift+Tab")
    pg.keyboard.type("那机构养育的呢？")
    pg.keyboard.press("Enter")
    wait_answered(pg, 2)
    assert "1410元" in last_answer(pg)  # the follow-up understood from the conversation

    tab_to(pg, up)
    pg.keyboard.press("Enter")
    pg.locator("#fb-status").get_by_text("已记录").wait_for(timeout=15_000)
    rows = (
        sqlite3.connect(service.settings.feedback_db)
        .execute("SELECT rating, question FROM feedback")
        .fetchall()
    )
    assert rows[-1] == ("up", "那机构养育的呢？")

    tab_to(pg, lookup_tab)  # onwards past the end of the page and round to the tabs
    pg.keyboard.press("Enter")
    assert lookup_tab.get_attribute("aria-selected") == "true"
    tab_to(pg, pg.locator("#lookup-q textarea"))
    pg.keyboard.type("孤儿养育")
    pg.locator("#card").get_by_text("孤儿养育保障").first.wait_for(timeout=20_000)

    tab_to(pg, switch, key="Shift+Tab")
    pg.keyboard.press("Space")
    pg.wait_for_function("document.documentElement.classList.contains('elder')")
    assert pg.evaluate("localStorage.getItem('policyqa.mode')") == "elder"
    assert pg.outside == []


# ------------------------------------------------------------------ 朗读

# Headless Chromium has no voices, so the browser's speech engine is replaced by a recorder with
# voices the test sets (as a real browser announces them: later, with a voiceschanged event).
FAKE_SPEECH = """(() => {
  const synth = new EventTarget();
  let voices = [];
  synth.spoken = []; synth.utterances = []; synth.cancelled = 0; synth.speaking = false;
  synth.getVoices = () => voices;
  synth.speak = (u) => { synth.spoken.push({text: u.text, lang: u.lang, voice: u.voice && u.voice.name});
                         synth.utterances.push(u); synth.speaking = true; };
  synth.cancel = () => { synth.cancelled += 1; synth.speaking = false; };
  window.setVoices = (v) => { voices = v; synth.dispatchEvent(new Event('voiceschanged')); };
  Object.defineProperty(window, 'speechSynthesis', {value: synth, configurable: true});
  window.SpeechSynthesisUtterance = class { constructor(text) { this.text = text; } };
})();"""


def test_read_aloud_only_with_a_local_chinese_voice_and_it_reads_the_answer(ctx, live):
    ctx.add_init_script(FAKE_SPEECH)
    pg = open_page(ctx, live.url + "/")
    read, stop = pg.locator("#read-aloud"), pg.locator("#read-stop")
    ask_and_open_source(pg)
    assert read.is_hidden() and stop.is_hidden()  # no voice at all

    # a Chinese voice that speaks through a server would send the answer away: not offered
    pg.evaluate(
        "setVoices([{name: 'Cloud 普通话', lang: 'zh-CN', localService: false},"
        " {name: 'English', lang: 'en-US', localService: true}])"
    )
    assert read.is_hidden()

    pg.evaluate("setVoices([{name: 'Local 普通话', lang: 'zh-CN', localService: true}])")
    read.wait_for(state="visible")
    read.click()
    spoken = pg.evaluate("speechSynthesis.spoken")
    shown = pg.locator('#chat [data-testid="bot"] .message-content').last.inner_text().strip()
    assert spoken == [{"text": shown, "lang": "zh-CN", "voice": "Local 普通话"}]
    assert "1120元" in spoken[0]["text"]
    stop.wait_for(state="visible")  # 停止 while it speaks
    pg.evaluate("speechSynthesis.utterances[0].onend()")
    stop.wait_for(state="hidden")  # and gone when it is done

    read.click()
    read.click()  # again from the start: the first is cancelled, and ends after the second began
    pg.evaluate("speechSynthesis.utterances[1].onend()")
    assert stop.is_visible()  # the late end of a cancelled one does not hide 停止
    stop.click()
    assert pg.evaluate("speechSynthesis.speaking") is False
    stop.wait_for(state="hidden")
    assert pg.outside == []
