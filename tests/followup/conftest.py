"""A hall that closes the 差评 loop with the citizen: the rating book, the follow-ups, the 二次评价
link by SMS (the fake Aliyun SMS) or WeChat (the fake WeChat), the mobile channel; on a fixed Friday.
Window 1's leader is clerk 1002: the supervisor token made with --clerk 1002 handles its 差评."""

from __future__ import annotations

import httpx
import pytest

from evaluator.contact import GiveContact  # noqa: F401  (re-exported for the tests)
from queued.core import commands as c
from tests.evaluator_admin.conftest import TZ, at, config_text  # noqa: F401
from tests.followup.fake_aliyun_sms import KEY_ID, SECRET, SIGN_NAME, TEMPLATE, FakeAliyunSms
from tests.support import InProcessHall, eventually, token  # noqa: F401  (eventually: re-exported)
from tests.wechat.fake_wechat import FakeWeChat

ADAPTERS = ["evaluator.service:EvaluatorAdapter", "evaluator.admin:AdminAdapter",
            "evaluator.recheck_service:RecheckAdapter", "queued.channels.mobile:WeChatMobile"]
PUBLIC = "https://hall.example.gov.cn"
TEMPLATE_RECHECK = "TPL_RECHECK_5Hq8"


def sms_toml(fake: FakeAliyunSms, secret_file: str, **over) -> str:
    values = {"endpoint": fake.url, "access_key_id": KEY_ID, "access_key_secret_file": secret_file,
              "sign_name": SIGN_NAME, "template_code": TEMPLATE, "max_attempts": 3, **over}
    return "\n[sms]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in values.items())


def wechat_toml(fake: FakeWeChat, recheck: bool = True) -> str:
    return (f'\n[wechat]\nappid = "{fake.appid}"\nsecret = "{fake.secret}"\napi_base = "{fake.url}"\n'
            f'authorize_base = "{fake.url}"\n' + (f'template_recheck = "{TEMPLATE_RECHECK}"\n' if recheck else ""))


class Hall(InProcessHall):
    def __init__(self, tmp_path, clock, extra: str = "", adapters: list[str] | None = None):
        super().__init__(str(tmp_path / "hall.sqlite3"), clock, adapters or ADAPTERS)
        self.tmp = tmp_path
        self.extra = extra
        self.keys: dict[str, str] = {}

    def config_text(self) -> str:
        return config_text(self.db).replace('public_url = "http://hall"', f'public_url = "{PUBLIC}"', 1) + self.extra

    async def start(self):
        await super().start()
        rc = self.recheck
        rc.backoff_s = (0.0,)  # retries as soon as the sender looks again (the test moves on)
        rc.poll_s = 0.05
        return self

    @property
    def recheck(self):
        return self.daemon.adapter("RecheckAdapter")

    async def serve(self, tokens, phone: str | None = None, openid: str | None = None, project_no: str | None = None,
                    window: str = "1") -> dict:
        """Issue, call, (bind a 办件 with the applicant's phone), finish: the served case."""
        cl = self.client
        r = await cl.post("/api/v1/tickets", json={"business": "A", **({"openid": openid} if openid else {})},
                          headers=tokens["kiosk"])
        assert r.status_code == 201, r.text
        self.keys[r.json()["id"]] = r.json()["rating_key"]
        r = await cl.post(f"/api/v1/windows/{window}/call-next", headers=tokens[f"clerk{window}"])
        assert r.status_code == 200, r.text
        if project_no is not None:
            await self.daemon.runtime.execute(c.BindCase(window, project_no, "330100-001", "营业执照", "",
                                                         "王小明", "330102199001011234", phone or ""))
        r = await cl.post(f"/api/v1/windows/{window}/finish", headers=tokens[f"clerk{window}"])
        assert r.status_code == 200, r.text
        return r.json()["finished"]

    async def rate_bad(self, case: dict, level: int = 1, comment: str = "窗口人员态度差，等了很久") -> dict:
        r = await self.client.post("/api/v1/ratings", json={"ticket": case["ticket"], "level": level,
                                                            "key": self.keys[case["ticket"]], "reasons": [1],
                                                            "comment": comment})
        assert r.status_code == 201, r.text
        case["case"] = r.json()["case"]  # a bound 办件's case id is not the ticket's serial
        return r.json()

    async def act(self, headers, case: int, action: str, body: dict, status: int = 200) -> dict:
        r = await self.client.post(f"/api/v1/followups/{case}/{action}", json=body, headers=headers)
        assert r.status_code == status, r.text
        return r.json()

    async def rectify(self, headers, case: int) -> dict:
        await self.act(headers, case, "callback", {"contacted": True, "note": "已电话致歉，群众反映排队太久"})
        return await self.act(headers, case, "rectify", {"mode": "immediate", "note": "增开一个综合窗口，高峰期弹性排班"})

    async def page(self, headers, path: str) -> httpx.Response:
        """An /admin page as the holder of `headers` sees it (signed in with that token's cookie,
        over the hall's public https address: the cookie is Secure)."""
        tok = headers["Authorization"].removeprefix("Bearer ")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.daemon.app), base_url=PUBLIC,
                                     headers={"Origin": PUBLIC}) as web:
            r = await web.post("/admin/login", data={"token": tok, "next": path})
            assert r.status_code == 303, r.text
            return await web.get(path)

    async def rows(self, sql: str, params=()) -> list[dict]:
        await self.daemon.runtime.journal.append([])
        return [dict(r) for r in await self.daemon.runtime.journal.fetchall(sql, params)]


@pytest.fixture
def secret_file(tmp_path):
    p = tmp_path / "sms.secret"
    p.write_text(SECRET + "\n", encoding="utf-8")
    p.chmod(0o600)
    return str(p)


@pytest.fixture
async def make_hall(tmp_path, clock):
    made = []

    async def factory(extra: str = "", adapters: list[str] | None = None) -> Hall:
        clock.now = at("2026-09-18")
        h = await Hall(tmp_path, clock, extra, adapters).start()
        made.append(h)
        return h

    yield factory
    for h in made:
        await h.stop()


def make_tokens(db: str) -> dict:
    out = {"kiosk": token(db, "kiosk"), "supervisor": token(db, "supervisor"),
           "leader": token(db, "supervisor", None, "1002"), "other_sup": token(db, "supervisor", None, "1001"),
           "admin": token(db, "admin"), "clerk1": token(db, "clerk", "1", "1001"),
           "clerk2": token(db, "clerk", "2", "1002")}
    return {k: {"Authorization": f"Bearer {v}"} for k, v in out.items()}
