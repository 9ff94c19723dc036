"""Whether a ticket was rated comes from the server (any device sees it), but only for its holder:
the rating key in X-Rating-Key, or the WeChat session of its openid. A stranger learns nothing."""

from __future__ import annotations

import httpx

from tests.support import PAGE_ORIGIN, token

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "queued.channels.mobile:WeChatMobile"]


async def test_rated_for_the_holder_only(make_daemon):
    d = await make_daemon(extra="\n[wechat]\ndemo_login = true\n", adapters=ADAPTERS)
    db = d.config.database
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    clerk = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall",
                                 headers=PAGE_ORIGIN) as c:
        t = (await c.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)).json()
        await c.post("/api/v1/windows/1/call-next", headers=clerk)
        await c.post("/api/v1/windows/1/finish", headers=clerk)
        url = f"/m/api/t/{t['id']}"
        holder = {"X-Rating-Key": t["rating_key"]}
        assert (await c.get(url, headers=holder)).json()["rated"] is False
        r = await c.post("/api/v1/ratings", json={"ticket": t["id"], "key": t["rating_key"], "level": 4})
        assert r.status_code == 201, r.text
        seen = (await c.get(url, headers=holder)).json()  # another phone with the QR code's link
        assert seen["rated"] is True and seen["status"] == "done"
        assert (await c.get(url)).json()["rated"] is False  # a stranger with the id alone
        assert (await c.get(url, headers={"X-Rating-Key": "wrong"})).json()["rated"] is False
        assert (await c.get("/m/api/t/nope")).status_code == 404
