"""The demo sign-in only where the file says so (issue 10: "with no `[wechat] appid` (as in
`docker/hall.toml`) the demo sign-in is on"). Before, a hall without an appid let anyone sign in
as a made-up citizen and take numbers; now only `[wechat] demo_login = true` turns it on, and a hall
with a real appid cannot."""

from __future__ import annotations

import json
import tomllib

import pytest

from queued.config import parse_config
from queued.errors import ConfigError
from tests.security.inputs_hall import client, full_hall
from tests.support import ROOT, hall_toml


def test_the_compose_files_hall_has_no_demo_sign_in(tmp_path):
    raw = tomllib.loads((ROOT / "docker" / "hall.toml").read_text(encoding="utf-8"))
    wechat = raw.get("wechat", {})
    assert not wechat.get("appid") and not wechat.get("demo_login")
    # Its [wechat] table (if any) read as the daemon reads it: the demo sign-in stays off.
    extra = "\n[wechat]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in wechat.items()) if wechat else ""
    cfg = parse_config(hall_toml(str(tmp_path / "h.sqlite3"), extra=extra), source="test")
    assert cfg.sections["wechat"]["demo_login"] is False


async def test_a_hall_without_appid_offers_no_demo_sign_in_and_no_public_issue(make_daemon):
    d = await full_hall(make_daemon, extra="")  # as docker/hall.toml: no [wechat] table at all
    async with client(d, "10.0.0.50") as c:
        r = await c.get("/m")
        assert r.status_code == 404 and "未开通微信取号" in r.text and "demo-login" not in r.text
        r = await c.post("/m/demo-login", data={"next": "/m"})
        assert r.status_code == 403 and "qm_session" not in r.headers.get("set-cookie", "")
        r = await c.post("/api/v1/tickets", json={"business": "A"})
        assert r.status_code == 401
        r = await c.post("/api/v1/appointments", json={"business": "A", "day": "2026-12-01", "start": "09:00"})
        assert r.status_code == 401
    assert not d.runtime.engine.tickets


def test_a_hall_with_an_appid_cannot_turn_the_demo_on(tmp_path):
    extra = '\n[wechat]\nappid = "wx123"\nsecret = "s"\ndemo_login = true\n'
    with pytest.raises(ConfigError, match="demo_login"):
        parse_config(hall_toml(str(tmp_path / "h.sqlite3"), extra=extra), source="test")
