"""The analyst console in headless Chromium against the running service (issue 6).

Uploads a bona fide and a spoof recording and checks that the verdicts shown are the
API's for the same bytes, that the spectrogram timeline renders, keyboard access to
the upload control, the error shown for an invalid file, the microphone button's
fallback, the decisions/call/models views and the phone layout. Screenshots go to
``tests/_artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLIPS = {
    "bonafide": "bonafide_lj001-0001",
    "spoof": "spoof_hn-nsf_slt_arctic_b0474",
}
# Distinct colours in the spectrogram area of the canvas (a blank canvas has 1-2).
CANVAS_STATS = """(c) => {
  const ctx = c.getContext('2d');
  const img = ctx.getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  let lit = 0;
  for (let i = 0; i < img.length; i += 4 * 7) {
    seen.add((img[i] << 16) | (img[i + 1] << 8) | img[i + 2]);
    if (img[i] + img[i + 1] + img[i + 2] > 120) lit += 1;
  }
  return {colors: seen.size, lit, width: c.width, height: c.height};
}"""
# WCAG contrast ratio of visible text against its nearest opaque background.
CONTRAST = """(selectors) => {
  const parse = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = (c) => c.slice(0, 3).map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((acc, v, i) => acc + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.getClientRects().length || !el.textContent.trim()) continue;
      const a = lum(parse(getComputedStyle(el).color));
      const b = lum(background(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      out.push({sel, text: el.textContent.trim().slice(0, 40), ratio});
    }
  }
  return out;
}"""
TEXT_SELECTORS = [
    "body",
    "h2",
    "h3",
    "label",
    ".hint",
    ".status",
    ".badge",
    "button",
    "nav a",
    ".verdict",
    ".facts dt",
    ".facts dd",
    "figcaption",
    ".alert",
    "a",
    "th",
    "td",
    ".file-info",
]


def low_contrast(pg: Any) -> list[dict[str, Any]]:
    """Visible text elements whose contrast is below 4.5:1."""
    return [c for c in pg.evaluate(CONTRAST, TEXT_SELECTORS) if c["ratio"] < 4.5]


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A fresh desktop page on the console; fails the test on CSP violations or JS errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    pg.goto(f"{live_server}/console")
    pg.wait_for_selector("body[data-ready=true]", timeout=15_000)
    yield pg
    context.close()
    assert not problems, problems


def api_result(live_server: str, path: Path) -> dict[str, Any]:
    """The API's JSON for a file (what the page must show)."""
    r = httpx.post(
        f"{live_server}/v1/analyze",
        content=path.read_bytes(),
        headers={"Content-Type": "audio/flac"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()


def upload(pg: Any, path: Path) -> None:
    """Choose a file and press Analyze; wait for the rendered timeline."""
    pg.set_input_files("#file-input", str(path))
    pg.wait_for_function("() => document.getElementById('file-info').textContent.includes('KiB')")
    pg.click("#analyze-btn")
    pg.wait_for_selector("#timeline-canvas[data-rendered=true]", timeout=20_000)


@pytest.mark.parametrize("kind", ["bonafide", "spoof"])
def test_verdict_matches_api_and_timeline_renders(
    page: Any, live_server: str, fixture_audio: dict[str, Path], artifacts: Path, kind: str
) -> None:
    path = fixture_audio[CLIPS[kind]]
    expected = api_result(live_server, path)
    upload(page, path)
    card = page.locator("#verdict-card")
    assert card.get_attribute("data-verdict") == expected["verdict"]
    assert card.get_attribute("data-tier") == expected["tier"]
    assert float(card.get_attribute("data-p-spoof")) == pytest.approx(expected["p_spoof"])
    assert page.locator("#p-spoof").inner_text() == f"{100 * expected['p_spoof']:.1f} %"
    assert expected["model"]["name"] in page.locator("#model-used").inner_text()
    assert page.locator("#result .badge").inner_text().lower() == expected["tier"]
    canvas = page.locator("#timeline-canvas")
    assert int(canvas.get_attribute("data-spec-width")) > 100
    assert int(canvas.get_attribute("data-spec-height")) > 50
    stats = canvas.evaluate(CANVAS_STATS)
    assert stats["width"] > 300 and stats["colors"] > 50 and stats["lit"] > 100, stats
    # the highest-scoring windows are listed and playable from the local file
    buttons = page.locator("#top-windows button.play")
    assert buttons.count() == min(3, len(expected["timeline"]))
    buttons.first.click()
    page.wait_for_function(
        "() => document.getElementById('playback-status').textContent.startsWith('Playing')"
    )
    assert not low_contrast(page), low_contrast(page)
    page.screenshot(path=str(artifacts / f"console_desktop_{kind}.png"), full_page=True)


def test_invalid_file_shows_the_api_error(
    page: Any, live_server: str, tmp_path: Path, artifacts: Path
) -> None:
    bogus = tmp_path / "not-audio.wav"
    bogus.write_bytes(b"this is plain text, not a recording\n" * 20)
    r = httpx.post(
        f"{live_server}/v1/analyze",
        content=bogus.read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    )
    code = r.json()["error"]["code"]
    assert r.status_code == 422 and code == "not_audio"
    page.set_input_files("#file-input", str(bogus))
    page.click("#analyze-btn")
    alert = page.locator("#analyze-error")
    alert.wait_for(state="visible", timeout=15_000)
    text = alert.inner_text()
    assert code in text and r.json()["error"]["message"][:30] in text
    assert page.locator("#result").is_hidden()
    assert not low_contrast(page), low_contrast(page)
    page.screenshot(path=str(artifacts / "console_error.png"), full_page=True)


def test_keyboard_reaches_upload_with_visible_focus(page: Any) -> None:
    reached = None
    for _ in range(25):
        page.keyboard.press("Tab")
        reached = page.evaluate("document.activeElement && document.activeElement.id")
        if reached == "file-input":
            break
    assert reached == "file-input"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    labels = page.evaluate(
        "Array.from(document.getElementById('file-input').labels).map(l => l.textContent)"
    )
    assert labels and "Recording" in labels[0]


def test_microphone_button_degrades_gracefully(page: Any) -> None:
    button = page.locator("#record-btn")
    assert button.inner_text() == "Record from microphone"
    if button.is_enabled():
        button.click()
    page.wait_for_function(
        "() => /unavailable|not available|Recording/.test(document.getElementById('record-status')"
        ".textContent)",
        timeout=15_000,
    )
    status = page.locator("#record-status").inner_text()
    if "Recording" in status:  # a (fake) microphone exists: stop cleanly
        button.click()
    else:
        assert "Upload a file instead" in status


def test_decisions_call_and_models_views(
    page: Any, live_server: str, fixture_audio: dict[str, Path], artifacts: Path
) -> None:
    path = fixture_audio[CLIPS["spoof"]]
    r = httpx.post(
        f"{live_server}/v1/analyze?call_id=e2e-call-7",
        content=path.read_bytes(),
        headers={"Content-Type": "audio/flac"},
        timeout=30,
    )
    tier = r.json()["tier"]
    page.click("a[data-nav=decisions]")
    page.wait_for_selector("#decisions-body tr")
    page.select_option("#f-tier", tier)
    page.fill("#f-call", "e2e-call-7")
    page.click("#filter-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#decisions-body tr').length === 1")
    assert "e2e-call-7" in page.locator("#decisions-body tr").inner_text()
    page.fill("#f-to", "2000-01-01")  # a date filter that excludes it
    page.click("#filter-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#decisions-body tr').length === 0")
    assert "No decisions" in page.locator("#decisions-status").inner_text()
    page.fill("#f-to", "")
    page.click("#filter-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#decisions-body tr').length === 1")
    assert not low_contrast(page), low_contrast(page)
    page.screenshot(path=str(artifacts / "console_decisions.png"), full_page=True)
    page.click("#decisions-body a[href='#call/e2e-call-7']")
    page.wait_for_selector("#detail-body .decision-card svg polyline")
    assert page.locator("#detail-title").inner_text() == "Call e2e-call-7"
    page.screenshot(path=str(artifacts / "console_call.png"), full_page=True)
    page.click("a[data-nav=models]")
    page.wait_for_selector(".model-card .det-figure svg polyline.det-line", timeout=15_000)
    assert page.locator(".model-card table tbody tr").count() >= 1
    assert not low_contrast(page), low_contrast(page)
    page.screenshot(path=str(artifacts / "console_models.png"), full_page=True)


def test_phone_width_layout(
    browser: Any, live_server: str, fixture_audio: dict[str, Path], artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    pg = context.new_page()
    try:
        pg.goto(f"{live_server}/console")
        pg.wait_for_selector("body[data-ready=true]")
        upload(pg, fixture_audio[CLIPS["spoof"]])
        overflow = pg.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390, f"page is {overflow} px wide at a 390 px viewport"
        assert pg.locator("#timeline-canvas").bounding_box()["width"] <= 390
        pg.screenshot(path=str(artifacts / "console_phone.png"), full_page=True)
        for view, ready in (("models", ".model-card"), ("decisions", "#decisions-body tr")):
            pg.click(f"a[data-nav={view}]")
            pg.wait_for_selector(ready)
            width = pg.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"#{view} is {width} px wide at a 390 px viewport"
        pg.screenshot(path=str(artifacts / "console_phone_decisions.png"), full_page=True)
    finally:
        context.close()


def test_api_key_is_asked_for_and_kept_for_the_tab(
    browser: Any, keyed_server: tuple[str, str], fixture_audio: dict[str, Path], artifacts: Path
) -> None:
    url, key = keyed_server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    try:
        pg.goto(f"{url}/console#decisions")
        pg.wait_for_selector("body[data-ready=true]")
        error = pg.locator("#decisions-error")
        error.wait_for(state="visible")
        assert "unauthorized" in error.inner_text() and "API key" in error.inner_text()
        assert "No key set" in pg.locator("#key-status").inner_text()
        pg.fill("#api-key", key)
        pg.click("#key-form button[type=submit]")
        pg.wait_for_function(
            "() => /decisions? match|shown/.test("
            "document.getElementById('decisions-status').textContent)"
        )
        assert error.is_hidden()
        pg.reload()
        pg.wait_for_selector("body[data-ready=true]")
        assert pg.input_value("#api-key") == key  # kept in sessionStorage for this tab
        pg.click("a[data-nav=analyze]")
        upload(pg, fixture_audio[CLIPS["bonafide"]])
        assert pg.locator("#verdict-card").get_attribute("data-verdict") in ("bonafide", "spoof")
        pg.click("#key-clear")
        assert pg.evaluate("() => sessionStorage.length") == 0
    finally:
        context.close()
