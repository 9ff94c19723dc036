"""Behind a reverse proxy (TLS in front, as docs/security.md asks) every client has the proxy's
address: the per-address limits would count the whole hall together. `[daemon] trusted_proxies`
names the proxies whose X-Forwarded-For is believed; from anyone else the header is ignored, so
no client can claim another's address (real `queued serve`, the header as nginx sends it)."""

from __future__ import annotations

import httpx

from tests.support import ServeProcess, free_port, hall_toml

LIMITS = """
[wechat]
demo_login = true

[limits]
issue_per_address = 2
"""


def _serve(tmp_path, proxies: str) -> tuple[ServeProcess, str]:
    port = free_port()
    text = hall_toml(str(tmp_path / "hall.sqlite3"), http_port=port, extra=LIMITS)
    text = text.replace("[daemon]\n", f"[daemon]\ntrusted_proxies = {proxies}\n", 1)
    conf = tmp_path / "hall.toml"
    conf.write_text(text, encoding="utf-8")
    base = f"http://127.0.0.1:{port}"
    return ServeProcess(conf, tmp_path).start(base), base


def _take(base: str, forwarded_for: str) -> int:
    """A phone behind the proxy: signs in (demo) and takes a number; the status of the take."""
    with httpx.Client(base_url=base, headers={"Origin": base, "X-Forwarded-For": forwarded_for}) as c:
        assert c.post("/m/demo-login", data={"next": "/m"}).status_code == 303
        return c.post("/api/v1/tickets", json={"business": "A"}).status_code


def test_a_trusted_proxy_names_the_client_and_an_untrusted_header_is_ignored(tmp_path):
    (tmp_path / "proxied").mkdir()
    proc, base = _serve(tmp_path / "proxied", '["127.0.0.1"]')
    try:
        assert [_take(base, "10.0.0.1") for _ in range(3)] == [201, 201, 429]
        assert _take(base, "10.0.0.2") == 201  # another phone behind the same proxy
        assert _take(base, "10.0.0.1, 10.0.0.3") == 201  # the proxy appends the real peer: that one counts
    finally:
        proc.stop()
    (tmp_path / "direct").mkdir()
    proc, base = _serve(tmp_path / "direct", "[]")
    try:  # no proxy trusted: the header names nobody, the address is the connection's
        assert [_take(base, f"10.0.0.{i}") for i in range(3)] == [201, 201, 429]
    finally:
        proc.stop()


def test_a_trusted_proxy_that_is_not_an_address_stops_the_start(tmp_path):
    import pytest

    from queued.config import parse_config
    from queued.errors import ConfigError

    text = hall_toml(str(tmp_path / "h.sqlite3")).replace("[daemon]\n", '[daemon]\ntrusted_proxies = ["nginx"]\n', 1)
    with pytest.raises(ConfigError, match=r"daemon.trusted_proxies \(line 3\).*'nginx' is not an IP address"):
        parse_config(text, source="test")
    text = hall_toml(str(tmp_path / "h.sqlite3")).replace("[daemon]\n", '[daemon]\ntrusted_proxies = ["10.0.0.0/24", "::1"]\n', 1)
    assert parse_config(text, source="test").trusted_proxies == ("10.0.0.0/24", "::1/128")
