"""docker/ and deploy/ checked without a Docker engine: the compose file parsed and cross-checked
against the files it mounts, the Dockerfile, the ACL against the spec's Access section, the example
hall.toml against the config loader, the dashboard against the metrics a real daemon exposes."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import httpx
import pytest
import yaml

from queued.config import load_config
from tests.support import ROOT

DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


def mounts(service: dict) -> dict[str, str]:
    """container path → source (a named volume or a path relative to docker/)."""
    out = {}
    for v in service.get("volumes", []):
        source, target = v.split(":")[:2]
        out[target] = source
    return out


def test_compose_services_volumes_and_healthcheck(compose):
    services = compose["services"]
    assert set(services) == {"queued", "mosquitto", "prometheus", "grafana"}
    q = services["queued"]
    assert (DOCKER / q["build"]["context"]).resolve() == ROOT
    assert (ROOT / q["build"]["dockerfile"]).is_file()
    assert q["command"] == ["serve", "--config", "/etc/queued/hall.toml"]
    assert "8080:8080" in q["ports"]
    m = mounts(q)
    assert m["/var/lib/queued"] == "queued-data"  # the database survives the container
    assert m["/etc/queued/hall.toml"] == "./hall.toml"
    health = " ".join(q["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/healthz" in health
    assert q["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    assert q["secrets"] == ["mqtt_password"]
    assert compose["secrets"]["mqtt_password"]["file"] == "./secrets/mqtt-queued.pass"

    declared = set(compose["volumes"])
    for name, svc in services.items():
        for target, source in mounts(svc).items():
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source} (for {target}) is not in docker/"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
    for name in ("mosquitto", "queued"):
        assert "healthcheck" in services[name]


def test_mosquitto_service_uses_the_repos_conf_acl_and_recipe_paths(compose):
    mosq = compose["services"]["mosquitto"]
    assert mosq["image"].startswith("eclipse-mosquitto:2")
    assert mounts(mosq)["/mosquitto/config"] == "./mosquitto"
    conf = (DOCKER / "mosquitto" / "mosquitto.conf").read_text()
    settings = dict(line.split(None, 1) for line in conf.splitlines() if line and not line.startswith("#"))
    assert settings["allow_anonymous"] == "false"
    assert settings["acl_file"] == "/mosquitto/config/acl"
    assert settings["password_file"] == "/mosquitto/config/passwd"
    assert settings["use_username_as_clientid"] == "true"  # as the embedded broker (queued/broker/files.py)
    listener = conf.splitlines().index("listener 1883")
    assert conf.splitlines().index("use_username_as_clientid true") > listener  # a per-listener setting
    recipe = (DOCKER / "mosquitto" / "make-passwords.sh").read_text()
    assert 'passwd=${MOSQ_PASSWD_FILE:-$here/passwd}' in recipe  # docker/mosquitto/passwd
    assert 'secrets=${QUEUED_SECRETS_DIR:-$here/../secrets}' in recipe and "mqtt-queued.pass" in recipe


def parse_acl(text: str) -> tuple[dict[str, set[tuple[str, str]]], set[tuple[str, str]]]:
    users: dict[str, set[tuple[str, str]]] = {}
    patterns: set[tuple[str, str]] = set()
    user = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, *rest = line.split()
        if word == "user":
            user = rest[0]
            users[user] = set()
        elif word == "topic":
            assert user is not None, f"topic before any user: {line}"
            users[user].add((rest[0], rest[1]))
        elif word == "pattern":
            patterns.add((rest[0], rest[1]))
        else:
            raise AssertionError(f"unexpected ACL line {line!r}")
    return users, patterns


def test_acl_is_the_spec_access_section():
    # shared/spec/mqtt.md, "Access": the daemon publishes under {prefix}/#; displays subscribe to
    # status, window/+/led/#, board, calls and publish their own screen/{id}/alive; a bridge
    # publishes pad/+/event and pad/+/online and reads pad/+/command.
    users, patterns = parse_acl((DOCKER / "mosquitto" / "acl").read_text())
    assert users["queued"] == users["queued-pads"] == {("readwrite", "queued/#")}
    display_reads = {"queued/+/status", "queued/+/window/+/led/#", "queued/+/board", "queued/+/calls"}
    assert patterns == {("read", t) for t in display_reads} | {("write", "queued/+/screen/%u/alive")}
    bridge = users["bridge"]
    assert {t for a, t in bridge if a != "deny"} == {"queued/+/pad/+/event", "queued/+/pad/+/online",
                                                     "queued/+/pad/+/command"}
    assert ("write", "queued/+/pad/+/event") in bridge and ("write", "queued/+/pad/+/online") in bridge
    assert ("read", "queued/+/pad/+/command") in bridge
    # The display patterns apply to every account: the bridge denies itself each of them.
    assert {t for a, t in bridge if a == "deny"} == display_reads | {"queued/+/screen/#"}
    assert set(users) == {"queued", "queued-pads", "bridge"}


def dockerfile() -> list[tuple[str, str]]:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in text.splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def test_dockerfile_non_root_healthcheck_volume_and_command():
    ins = dockerfile()
    assert ins[0] == ("FROM", "python:3.11-slim")
    users = [arg for op, arg in ins if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    health = next(arg for op, arg in ins if op == "HEALTHCHECK")
    assert "/healthz" in health
    assert json.loads(next(arg for op, arg in ins if op == "VOLUME")) == ["/var/lib/queued"]
    entry = json.loads(next(arg for op, arg in ins if op == "ENTRYPOINT"))
    cmd = json.loads(next(arg for op, arg in ins if op == "CMD"))
    assert entry + cmd == ["queued", "serve", "--config", "/etc/queued/hall.toml"]
    for op, arg in ins:
        if op == "COPY":
            for src in shlex.split(arg)[:-1]:
                assert (ROOT / src).exists(), f"COPY {src}: not in the repository"


def test_example_hall_toml_loads_and_fits_the_container(tmp_path):
    secret = tmp_path / "mqtt_password"
    secret.write_text("s3cret\n")
    text = (DOCKER / "hall.toml").read_text(encoding="utf-8").replace("/run/secrets/mqtt_password", str(secret))
    (tmp_path / "hall.toml").write_text(text, encoding="utf-8")
    cfg = load_config(tmp_path / "hall.toml", env={})
    assert (cfg.http_host, cfg.http_port) == ("0.0.0.0", 8080)
    assert Path(cfg.database).parent == Path("/var/lib/queued")
    assert cfg.mqtt_url == "mqtt://mosquitto:1883" and cfg.mqtt_username == "queued"
    assert cfg.mqtt_password == "s3cret" and cfg.mqtt_prefix == "queued"  # the ACL is written for it
    prom = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    job = prom["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"queued:{cfg.http_port}"]


def dashboard() -> dict:
    return json.loads((DOCKER / "grafana" / "dashboards" / "queued.json").read_text(encoding="utf-8"))


def test_grafana_provisioning_points_at_the_dashboard(compose):
    g = compose["services"]["grafana"]
    m = mounts(g)
    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/queued.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert m[path] == "./grafana/dashboards"
    home = g["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (DOCKER / "grafana/dashboards" / Path(home).relative_to(path)).is_file()
    ds = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = ds["datasources"][0]["uid"]
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    for panel in dashboard()["panels"]:
        assert panel["datasource"]["uid"] == uid
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"])


async def test_dashboard_queries_only_metrics_the_daemon_exposes(make_daemon):
    from queued.daemon import ADAPTERS

    d = await make_daemon(adapters=list(ADAPTERS))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as c:
        text = (await c.get("/metrics")).text
    exposed = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        exposed.add(name)
        if kind == "histogram":
            exposed.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    used = {m for p in dashboard()["panels"] for t in p["targets"]
            for m in re.findall(r"\b(queued_[a-z_]+)\b", t["expr"])}
    titles = {p["title"] for p in dashboard()["panels"]}
    for wanted in ("等候人数（按业务）", "最长等候（按业务）", "等候时长分位数（30 分钟窗口）", "呼叫 / 办结（每小时）",
                   "评价（按等级，每小时）", "设备在线", "HTTP 延迟（P50 / P99）"):
        assert wanted in titles
    assert {"queued_waiting", "queued_oldest_wait_seconds", "queued_wait_seconds_bucket",
            "queued_tickets_called_total", "queued_tickets_served_total", "queued_ratings_total",
            "queued_screens_online", "queued_pads_online", "queued_http_request_duration_seconds_bucket"} <= used
    unknown = used - exposed
    assert not unknown, f"the dashboard queries metrics no daemon exposes: {sorted(unknown)}"


def unit_file() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    section = ""
    for raw in (ROOT / "deploy" / "queued.service").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key}", []).append(value)
    return out


def test_systemd_unit():
    u = unit_file()
    assert u["Service.Type"] == ["simple"]
    assert u["Service.User"] == ["queued"] and u["Service.Restart"] == ["on-failure"]
    assert u["Service.WorkingDirectory"] == ["/var/lib/queued"]
    assert u["Service.ProtectSystem"] == ["strict"] and u["Service.ReadWritePaths"] == ["/var/lib/queued"]
    assert u["Service.NoNewPrivileges"] == ["yes"]
    assert u["Service.ExecStart"][0].endswith("queued serve --config /etc/queued/hall.toml")
    assert u["Install.WantedBy"] == ["multi-user.target"]


async def test_saturation_on_the_dashboard_and_in_metrics(make_daemon, clock):
    titles = {p["title"]: p for p in dashboard()["panels"]}
    panel = titles["窗口饱和度（今日，办理 ÷ 开窗）"]
    assert panel["targets"][0]["expr"] == "max by (window) (queued_window_saturation)"
    assert panel["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert "queued_business_saturation" in titles["业务饱和度（今日）"]["targets"][0]["expr"]
    d = await make_daemon()
    from tests.support import token

    kiosk = {"Authorization": f"Bearer {token(d.config.database, 'kiosk')}"}
    clerk = {"Authorization": f"Bearer {token(d.config.database, 'clerk', '1', '1001')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=d.app), base_url="http://hall") as c:
        await c.post("/api/v1/tickets", json={"business": "A"}, headers=kiosk)
        await c.post("/api/v1/windows/1/call-next", headers=clerk)
        await c.post("/api/v1/windows/1/start", headers=clerk)
        clock.advance(300)
        await c.post("/api/v1/windows/1/finish", headers=clerk)
        clock.advance(300)
        text = (await c.get("/metrics")).text
    assert 'queued_window_saturation{window="1"} 0.5' in text
    assert 'queued_window_busy_seconds{window="1"} 300.0' in text
    assert 'queued_window_saturation{window="2"}' not in text  # never open today: no figure
