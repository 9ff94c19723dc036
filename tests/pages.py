"""What a person would see on a page, checked in a real Chromium: text that does not fit its box,
English in text meant for citizens, and a screenshot saved for a person to look at.

Used by the page tests of every package (kiosk, /screen, /m, /clerk, /admin):

    from tests.pages import VIEWPORTS, check_page
    page = browser.new_page(viewport=VIEWPORTS["kiosk-portrait"], locale="zh-CN")
    page.goto(...)
    check_page(page, artifacts, "kiosk-portrait", citizen=True)

`check_page` asserts and returns the screenshot path; the helpers below it can be used alone.
"""

from __future__ import annotations

import re
from pathlib import Path

# The sizes people use (issue 13): kiosk portrait and landscape, a phone, the hall TV in 1080p and
# 4K, a clerk's PC, a supervisor's screen.
VIEWPORTS = {
    "kiosk-portrait": {"width": 1080, "height": 1920},
    "kiosk-landscape": {"width": 1920, "height": 1080},
    "phone": {"width": 390, "height": 844},
    "tv-1080p": {"width": 1920, "height": 1080},
    "tv-4k": {"width": 3840, "height": 2160},
    "clerk": {"width": 1366, "height": 768},
    "admin": {"width": 1920, "height": 1080},
}

# Elements whose text is clipped or spills out of their own box, or that stick out of the
# viewport sideways. Elements marked data-overflow-ok (a scrolling list, a marquee) are skipped.
_OVERFLOW_JS = """
() => {
  const out = [];
  const vw = document.documentElement.clientWidth;
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('[data-overflow-ok]')) continue;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const hasText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const why = [];
    if (hasText && el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible') why.push('clipped-x');
    if (hasText && el.scrollHeight > el.clientHeight + 1 && style.overflowY !== 'visible'
        && style.overflowY !== 'auto' && style.overflowY !== 'scroll') why.push('clipped-y');
    if (r.right > vw + 1 || r.left < -1) why.push('outside-viewport');
    if (why.length) out.push({tag: el.tagName.toLowerCase(), id: el.id, cls: el.className && String(el.className),
                              text: (el.innerText || '').trim().slice(0, 60), why: why.join(',')});
  }
  return out;
}
"""

# Words a citizen may see that are not Chinese: ticket numbers (A001, AB12), window ids, units and
# a few names printed on the hall's own signs. Anything else in Latin letters is English leaking.
_ALLOWED = re.compile(r"^(?:[A-Z]{1,2}\d+|\d+[A-Za-z]?|QR|WiFi|Wi-Fi|APP|App|ID|No|km|m|s|min|am|pm|AM|PM)$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")


def overflowing(page) -> list[dict]:
    """Elements whose text does not fit (see _OVERFLOW_JS)."""
    return page.evaluate(_OVERFLOW_JS)


def english_words(text: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Latin-letter words in `text` that are not ticket numbers, units or explicitly allowed."""
    out = []
    for token in re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", text):
        if _ALLOWED.match(token) or token in allowed:
            continue
        out.extend(w for w in _WORD.findall(token) if w not in allowed)
    return out


def visible_text(page, selector: str = "body") -> str:
    return page.locator(selector).inner_text()


def check_page(page, artifacts: Path, name: str, citizen: bool = False, allowed_words: tuple[str, ...] = (),
               selector: str = "body", full_page: bool = False) -> Path:
    """Screenshot `page` to test-artifacts/<name>.png and assert nothing overflows its box; for
    pages citizens read, also that their visible text holds no English."""
    path = Path(artifacts) / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    spill = overflowing(page)
    assert not spill, f"{name}: text does not fit its box: {spill[:8]}"
    if citizen:
        words = english_words(visible_text(page, selector), allowed_words)
        assert not words, f"{name}: English in citizen text: {sorted(set(words))[:20]}"
    return path


async def check_page_async(page, artifacts: Path, name: str, citizen: bool = False,
                           allowed_words: tuple[str, ...] = (), selector: str = "body",
                           full_page: bool = False) -> Path:
    """`check_page` for Playwright's async API (tests that serve the daemon in their own loop)."""
    path = Path(artifacts) / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    spill = await page.evaluate(_OVERFLOW_JS)
    assert not spill, f"{name}: text does not fit its box: {spill[:8]}"
    if citizen:
        words = english_words(await page.locator(selector).inner_text(), allowed_words)
        assert not words, f"{name}: English in citizen text: {sorted(set(words))[:20]}"
    return path
