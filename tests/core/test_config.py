"""Configuration: errors name the key and its line; nothing starts half-configured."""

from __future__ import annotations

import subprocess

import pytest

from queued.config import demo_config, load_config, parse_config
from queued.errors import ConfigError
from tests.support import QUEUED

GOOD = """
[hall]
id = "main"
name = "测试"

[[business]]
code = "A"
name = "综合受理"
hours = ["08:30-12:00", "13:30-17:30"]
daily_cap = 300

[[window]]
id = "3"
businesses = ["A"]
pad = { port = "/dev/ttyUSB0", address = 3 }
"""


def test_the_spec_example_parses():
    cfg = parse_config(GOOD)
    assert cfg.hall.id == "main"
    assert cfg.hall.businesses[0].hours == ((510, 720), (810, 1050))
    assert cfg.pads[0].address == 3 and cfg.mqtt_url is None


@pytest.mark.parametrize("text, expected", [
    (GOOD + "\n[daemon]\nhttp = 8080\n", "daemon.http (line 18): expected a string, got int"),
    (GOOD.replace('name = "测试"', 'name = "测试"\ncolour = "red"'), "hall.colour (line 5): unknown key"),
    (GOOD.replace('daily_cap = 300', 'daily_cap = -1'), "business[0].daily_cap (line 10): must be positive"),
    (GOOD.replace('"08:30-12:00"', '"12:00-08:30"'), "business[0].hours (line 9)"),
    (GOOD.replace('businesses = ["A"]', 'businesses = ["A", "Q"]'), "unknown business 'Q'"),
    (GOOD.replace('address = 3', 'address = 300'), "window[0].pad (line 15): address must be 1..247"),
    (GOOD.replace('id = "main"', 'id = "main hall"'), "hall.id (line 3)"),
    (GOOD + '\n[mqtt]\nurl = "http://x"\n', "mqtt.url (line 18)"),
    (GOOD + "\n[daemon]\ntimezone = \"Mars/Base\"\n", "unknown time zone"),
    (GOOD + "\n[hall2]\n", "hall2 (line 17): unknown section"),
    ("[hall]\nid = 'x'\n", "at least one [[business]]"),
    (GOOD.replace("[[window]]", "[[windowz]]"), "windowz (line 12): unknown section"),
    ("[hall\n", "not valid TOML"),
])
def test_errors_name_the_key_and_line(text, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert expected in str(info.value)


def test_wechat_secret_file_is_read_by_the_config(tmp_path):
    secret = tmp_path / "wechat.secret"
    secret.write_text("s3cr3t\n")
    cfg = parse_config(GOOD + f'\n[wechat]\nappid = "wx1"\nsecret_file = "{secret}"\n'
                       '\n[daemon]\npublic_url = "https://hall.example.gov.cn"\n')
    assert cfg.sections["wechat"]["secret"] == "s3cr3t"
    with pytest.raises(ConfigError, match=r"wechat.secret_file \(line 19\): cannot read"):
        parse_config(GOOD + f'\n[wechat]\nappid = "wx1"\nsecret_file = "{tmp_path / "nope"}"\n')
    with pytest.raises(ConfigError, match=r"wechat.subscribe_api \(line 18\): expected"):
        parse_config(GOOD + '\n[wechat]\nsubscribe_api = "post"\n')
    with pytest.raises(ConfigError, match="neither secret nor secret_file"):
        parse_config(GOOD + '\n[wechat]\nappid = "wx1"\n')


def test_environment_overrides(tmp_path):
    f = tmp_path / "hall.toml"
    f.write_text(GOOD)
    cfg = load_config(f, env={"QUEUED_DATABASE": "/tmp/x.sqlite3", "QUEUED_HTTP": "0.0.0.0:9000"})
    assert (cfg.database, cfg.http_host, cfg.http_port) == ("/tmp/x.sqlite3", "0.0.0.0", 9000)
    with pytest.raises(ConfigError, match="QUEUED_HTTP"):
        load_config(f, env={"QUEUED_HTTP": "nope"})
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml", env={})


def test_demo_hall_has_no_closing_time():
    cfg = demo_config()
    assert cfg.demo and cfg.hall.closes_minute is None and len(cfg.hall.windows) >= 3


def test_serve_refuses_a_bad_config_with_the_key(tmp_path):
    f = tmp_path / "hall.toml"
    f.write_text(GOOD.replace("daily_cap = 300", "daily_cap = \"lots\""))
    r = subprocess.run([QUEUED, "serve", "--config", str(f)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "business[0].daily_cap (line 10): expected an integer" in r.stderr


def test_token_create_prints_the_token_alone_on_the_last_line(tmp_path):
    f = tmp_path / "hall.toml"
    f.write_text(GOOD + f'\n[daemon]\ndatabase = "{tmp_path / "t.sqlite3"}"\n')
    r = subprocess.run([QUEUED, "token", "create", "--role", "clerk", "--window", "3", "--config", str(f)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("qd_") and " " not in last
    r = subprocess.run([QUEUED, "token", "create", "--role", "clerk", "--config", str(f)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--window" in r.stderr
    r = subprocess.run([QUEUED, "token", "create", "--role", "clerk", "--window", "9", "--config", str(f)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "unknown window" in r.stderr
