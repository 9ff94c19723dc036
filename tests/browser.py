"""Pages in a real Chromium against a real HTTP server: an ASGI app served under uvicorn in the
test's own event loop (so it runs on the test's clock), and a Chromium page to look at it with.

    from tests.browser import chromium_page, serving, sign_in
    async with serving(daemon.app) as base, chromium_page("admin") as page:
        await sign_in(page, f"{base}/admin", supervisor_token)

Used by the browser tests of every package; tests/pages.py checks what the page shows.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import uvicorn

from tests.pages import VIEWPORTS
from tests.support import free_port, launch_chromium


@asynccontextmanager
async def serving(app, port: int | None = None):
    """Serve `app` on 127.0.0.1 (`port`, or a free one) until the block ends; yields the base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def chromium(*extra_args: str):
    """A headless Chromium (async API), closed when the block ends."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await launch_chromium(pw, *extra_args)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def chromium_page(size: str | dict, *extra_args: str, locale: str = "zh-CN", **context):
    """A page of a fresh headless Chromium at VIEWPORTS[size] (or the viewport `size`), zh-CN;
    closed when the block ends."""
    viewport = VIEWPORTS[size] if isinstance(size, str) else size
    async with chromium(*extra_args) as browser:
        yield await browser.new_page(viewport=viewport, locale=locale, **context)


async def sign_in(page, url: str, token: str) -> None:
    """Open `url` (an /admin page, or /admin/login?next=…) and sign in on its form with `token`."""
    await page.goto(url)
    await page.fill("input[name=token]", token)
    await page.click("button[type=submit]")


async def clerk_sign_in(page, base: str, window: str = "1", clerk: str = "1001", pin: str = "1001") -> None:
    """Open the clerk console at `base` and sign in at `window` as `clerk` with `pin`."""
    await page.goto(f"{base}/clerk")
    await page.select_option("#window", window)
    await page.fill("#clerk", clerk)
    await page.fill("#pin", pin)
    await page.locator("#pin-form button[type=submit]").click()
