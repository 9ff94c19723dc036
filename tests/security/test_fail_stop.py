"""No input stops the daemon, against a real `queued serve` (issue 10: "one public request with an
unpaired surrogate in a rating comment makes the journal write fail, and the daemon fail-stops;
it is repeatable after every restart (also in openids, follow-up notes, PINs, tokens, ticket
ids)"). Each such request is a 4xx; the process lives on, answers /healthz, and still journals
the next honest request, before and after a restart."""

from __future__ import annotations

import httpx

from tests.support import PAGE_ORIGIN, serve_hall, token

SURROGATE = b'"\\ud800"'  # the JSON text of an unpaired surrogate, as a client sends it
JSON = {"Content-Type": "application/json"}


def _hostile_requests(base: str, db: str, ticket: str, key: str, case: int):
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}", **JSON}
    window1 = {"Authorization": f"Bearer {token(db, 'clerk', '1')}", **JSON}
    sup = {"Authorization": f"Bearer {token(db, 'supervisor')}", **JSON}
    s = SURROGATE
    yield "POST", "/api/v1/ratings", JSON, (b'{"ticket": "%s", "key": "%s", "level": 1, "reasons": [1], "comment": %s}'
                                            % (ticket.encode(), key.encode(), s))
    yield "POST", "/api/v1/tickets", kiosk, b'{"business": "A", "openid": %s}' % s
    yield "POST", f"/api/v1/followups/{case}/callback", sup, b'{"contacted": true, "note": %s}' % s
    yield "POST", "/api/v1/windows/1/sign-in", window1, b'{"clerk": "1001", "pin": %s}' % s
    yield "POST", "/api/v1/ratings", JSON, b'{"ticket": %s, "key": %s, "level": 1}' % (s, s)
    yield "GET", "/api/v1/tickets/%ED%A0%80", {}, b""
    yield "DELETE", "/api/v1/tickets/%ED%A0%80", JSON, b'{"key": %s}' % s
    yield "POST", "/admin/login", {"Content-Type": "application/x-www-form-urlencoded", **PAGE_ORIGIN}, \
        b"token=%ED%A0%80&next=%2Fadmin"
    yield "POST", "/api/v1/tickets", {"Authorization": "Bearer \udc80".encode("utf-8", "surrogateescape"), **JSON}, \
        b'{"business": "A"}'


def _served_bad_case(base: str, db: str) -> tuple[str, str]:
    kiosk = {"Authorization": f"Bearer {token(db, 'kiosk')}"}
    clerk = {"Authorization": f"Bearer {token(db, 'clerk', '1', '1001')}"}
    issued = httpx.post(f"{base}/api/v1/tickets", json={"business": "A"}, headers=kiosk).json()
    assert httpx.post(f"{base}/api/v1/windows/1/call-next", headers=clerk).status_code == 200
    assert httpx.post(f"{base}/api/v1/windows/1/finish", headers=clerk).status_code == 200
    return issued["id"], issued["rating_key"]


def test_hostile_text_never_stops_a_real_daemon_before_or_after_a_restart(tmp_path):
    proc, base, db = serve_hall(tmp_path)
    try:
        ticket, key = _served_bad_case(base, db)
        # An honest 差评 opens a follow-up (its case is the one the hostile note is aimed at).
        r = httpx.post(f"{base}/api/v1/ratings", json={"ticket": ticket, "key": key, "level": 1, "reasons": [1]})
        assert r.status_code == 201, r.text
        case = r.json()["case"]
        other, other_key = _served_bad_case(base, db)
        for round_ in ("before", "after"):
            for method, path, headers, body in _hostile_requests(base, db, other, other_key, case):
                r = httpx.request(method, base + path, headers=headers, content=body)
                assert 400 <= r.status_code < 500, (round_, method, path, r.status_code, r.text[:200])
                assert proc.proc.poll() is None, f"{method} {path} stopped the daemon ({round_} the restart)"
                assert httpx.get(f"{base}/healthz").status_code == 200
            if round_ == "before":
                proc.stop()
                proc.start(base)
        # The journal still takes the honest request: the citizen's own rating of the other case.
        r = httpx.post(f"{base}/api/v1/ratings", json={"ticket": other, "key": other_key, "level": 5})
        assert r.status_code == 201, r.text
    finally:
        proc.stop()
    assert "Traceback" not in (tmp_path / "serve.log").read_text(encoding="utf-8", errors="replace")
