"""/metrics as Prometheus reads it: `promtool check metrics` passes, and the `route` label is the
path template of the route that answered, with every path no route matched as one value."""

from __future__ import annotations

import re
import shutil
import subprocess


def routes_of(text: str) -> set[str]:
    return set(re.findall(r'queued_http_request_duration_seconds_count\{[^}]*route="([^"]*)"', text))


async def test_route_label_is_the_path_template_and_hostile_paths_collapse(api, tokens):
    r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["kiosk"])
    assert r.status_code == 201
    ticket = r.json()["id"]
    assert (await api.get(f"/api/v1/tickets/{ticket}")).status_code == 200
    assert (await api.post("/api/v1/windows/1/sign-in", json={}, headers=tokens["clerk1"])).status_code < 500
    assert (await api.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])).status_code == 200
    assert (await api.post("/api/v1/windows/1/evil-action", headers=tokens["clerk1"])).status_code == 404
    for i in range(40):  # a scanner: every path different
        assert (await api.get(f"/wp-admin/{i}/setup.php")).status_code == 404
        assert (await api.get(f"/api/v1/tickets/{i}x")).status_code == 404
    assert (await api.request("FROB", "/api/v1/hall")).status_code == 405
    assert (await api.get("/static/nothing-here.css")).status_code == 404

    text = (await api.get("/metrics")).text
    routes = routes_of(text)
    assert {"/api/v1/tickets", "/api/v1/tickets/{ticket_id}", "/api/v1/windows/{window}/call-next",
            "/api/v1/windows/{window}/{action}", "/api/v1/hall", "/static/{path}", "unmatched"} <= routes, routes
    # Neither a handler's name nor a raw path: nothing the client chose reaches a label.
    assert not any(name in routes for name in ("issue_ticket", "get_ticket", "window_action", "login"))
    assert not any("wp-admin" in x or "evil" in x or re.search(r"/\d", x) for x in routes), routes
    methods = set(re.findall(r'queued_http_request_duration_seconds_count\{method="([^"]*)"', text))
    assert methods <= {"GET", "POST", "DELETE", "other"} and "FROB" not in methods
    series = len(re.findall(r"^queued_http_request_duration_seconds_count", text, re.M))
    assert series < 20, series  # 80 hostile requests added at most a few series


async def test_promtool_check_metrics_passes(api, tokens):
    assert shutil.which("promtool"), "promtool missing: `make test` (system-deps) installs Debian's prometheus"
    r = await api.post("/api/v1/tickets", json={"business": "A"}, headers=tokens["kiosk"])
    assert r.status_code == 201
    await api.post("/api/v1/windows/1/call-next", headers=tokens["clerk1"])
    await api.get("/nowhere")
    text = (await api.get("/metrics")).text
    assert "queued_tickets_issued_total" in text and "queued_http_request_duration_seconds_bucket" in text
    done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
