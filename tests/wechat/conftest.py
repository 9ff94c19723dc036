"""Fixtures of the WeChat channel's tests: a fake WeChat server and a daemon wired to it."""

from __future__ import annotations

import httpx
import pytest

from tests import support
from tests.support import PAGE_ORIGIN
from tests.wechat.fake_wechat import FakeWeChat

ADAPTER = "queued.channels.mobile:WeChatMobile"


def wechat_toml(fake: FakeWeChat, notify_ahead: int = 2, templates: bool = True) -> str:
    tpl = 'template_ahead = "TPL_AHEAD_7Xk2"\ntemplate_called = "TPL_CALLED_9Qm4"\n' if templates else ""
    return (f'\n[wechat]\nappid = "{fake.appid}"\nsecret = "{fake.secret}"\napi_base = "{fake.url}"\n'
            f'authorize_base = "{fake.url}"\nnotify_ahead = {notify_ahead}\n{tpl}')


@pytest.fixture
async def wechat_daemon(make_daemon, fake_wechat):
    """A daemon with the mobile channel, talking to the fake WeChat."""
    return await make_daemon(extra=wechat_toml(fake_wechat), adapters=[ADAPTER])


@pytest.fixture
async def client(wechat_daemon):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wechat_daemon.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as c:
        yield c


async def eventually(predicate, timeout: float = 5.0, step: float = 0.02):
    """Wait until `predicate()` is true (notices are sent by background tasks)."""
    return await support.eventually(predicate, timeout, step)
