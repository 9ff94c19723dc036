"""A real `queued serve` with `[sms]` (the secret from the environment): the 二次评价 SMS is in flight
when the daemon is killed -9; after the restart the durable delivery row sends it, the citizen
answers on /r/{token}; neither the secret nor the phone is ever in the log."""

from __future__ import annotations

import time

import httpx

from tests.followup.conftest import sms_toml
from tests.followup.fake_aliyun_sms import SECRET, FakeAliyunSms
from tests.support import ServeProcess, free_port, hall_toml, token

PHONE = "13905718888"


def wait(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_an_sms_in_flight_at_kill_9_is_sent_after_the_restart(tmp_path):
    fake = FakeAliyunSms().start()
    proc = None
    try:
        port = free_port()
        db = tmp_path / "hall.sqlite3"
        extra = sms_toml(fake, "", timeout_s=20).replace('access_key_secret_file = ""\n', "")
        text = hall_toml(str(db), http_port=port, extra=extra)
        text = text.replace('id = "1"\nbusinesses = ["A", "B"]', 'id = "1"\nbusinesses = ["A", "B"]\nleader = "1002"')
        conf = tmp_path / "hall.toml"
        conf.write_text(text, encoding="utf-8")
        base = f"http://127.0.0.1:{port}"
        env = {"QUEUED_SMS_ACCESS_KEY_SECRET": SECRET}
        proc = ServeProcess(conf, tmp_path, env).start(base)
        h = {k: {"Authorization": f"Bearer {v}"} for k, v in {
            "kiosk": token(str(db), "kiosk"), "clerk1": token(str(db), "clerk", "1", "1001"),
            "integration": token(str(db), "integration"), "leader": token(str(db), "supervisor", None, "1002")}.items()}
        with httpx.Client(base_url=base, timeout=10) as c:
            r = c.post("/api/v1/tickets", json={"business": "A"}, headers=h["kiosk"])
            ticket, key = r.json()["id"], r.json()["rating_key"]
            assert c.post("/api/v1/windows/1/call-next", headers=h["clerk1"]).status_code == 200
            for bad in ("138 1234 5678", "+86-13812345678", "12345"):  # hostile phones: refused, nothing bound
                r = c.post("/api/v1/windows/1/cases", headers=h["integration"],
                           json={"project_no": "330100202612010001", "applicant": {"name": "王小明", "phone": bad}})
                assert r.status_code == 422 and "手机号格式不正确" in r.json()["error"]["message"], r.text
            r = c.post("/api/v1/windows/1/cases", headers=h["integration"],
                       json={"project_no": "330100202612010001", "applicant": {"name": "王小明", "phone": PHONE}})
            assert r.status_code == 201, r.text
            case = r.json()["case"]
            assert c.post("/api/v1/windows/1/finish", headers=h["clerk1"]).status_code == 200
            r = c.post("/api/v1/ratings", json={"ticket": ticket, "key": key, "level": 1, "reasons": [1]})
            assert r.status_code == 201, r.text
            r = c.post(f"/api/v1/followups/{case}/callback", headers=h["leader"],
                       json={"contacted": True, "note": "已致电致歉"})
            assert r.status_code == 200, r.text
            fake.hang_next = 1  # the first SendSms never gets an answer…
            r = c.post(f"/api/v1/followups/{case}/rectify", headers=h["leader"], json={"mode": "immediate",
                                                                                      "note": "增设引导员"})
            assert r.status_code == 200, r.text
        wait(lambda: fake.codes() == ["hung"])
        proc.kill()  # …and the daemon dies while it waits
        proc = ServeProcess(conf, tmp_path, env).start(base)
        wait(lambda: len(fake.sent) == 1)
        assert fake.codes() == ["hung", "OK"] and fake.sent[0]["phone"] == PHONE
        link = fake.sent[0]["values"]["token"]
        with httpx.Client(base_url=base, timeout=10) as c:
            page = c.get(f"/r/{link}")
            assert page.status_code == 200 and "增设引导员" in page.text
            r = c.post(f"/r/{link}", data={"level": "5"}, headers={"Origin": base})
            assert r.status_code == 200 and "感谢您的评价" in r.text, r.text
            item = c.get(f"/api/v1/followups/{case}", headers=h["leader"]).json()
            assert item["state"] == "closed" and item["recheck"]["state"] == "answered"
        log = (tmp_path / "serve.log").read_text(encoding="utf-8")
        assert SECRET not in log and PHONE not in log
    finally:
        if proc is not None:
            proc.stop()
        fake.stop()
