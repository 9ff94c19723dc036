"""[province] is checked at start: a wrong value stops the daemon with the key and its line."""

from __future__ import annotations

import pytest

from evaluator.province.settings import parse
from queued.config import parse_config
from queued.errors import ConfigError
from tests.province.fake_platform import FakePlatform
from tests.support import hall_toml


@pytest.fixture(scope="module")
def platform():
    return FakePlatform()  # keys only; not started


def settings(tmp_path, platform, profile, replace: dict | None = None):
    platform.server = type("S", (), {"server_address": ("127.0.0.1", 9)})()
    text = platform.province_toml(profile, tmp_path)
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    cfg = parse_config(hall_toml(str(tmp_path / "x.sqlite3"), extra=text))
    return parse(cfg.sections["province"], cfg.hall.reasons)


def test_no_province_table_means_no_push(tmp_path):
    cfg = parse_config(hall_toml(str(tmp_path / "x.sqlite3")))
    assert cfg.sections["province"] is None and parse(None, cfg.hall.reasons) is None


def test_both_profiles_parse_and_the_secret_stays_out_of_repr(tmp_path, platform):
    zj = settings(tmp_path, platform, "zhejiang")
    assert (zj.profile, zj.area_code, zj.data_source, zj.promise_code, zj.project_prefix) == (
        "zhejiang", "330201000000", "133", "2", "")
    assert zj.secret == platform.password and platform.password not in repr(zj)
    assert zj.eval_detail == {0: "501", 1: "502"}  # reason bits of 服务态度差, 办事效率低
    sd = settings(tmp_path, platform, "shandong")
    assert (sd.profile, sd.data_source, sd.promise_code, sd.project_prefix, sd.sm2_mode) == (
        "shandong", "165", "1", "37", "c1c3c2")
    assert sd.public_key == platform.public_key[2:] and sd.service_url.endswith(FakePlatform.SD_SERVICE)
    assert platform.app_word not in repr(sd)


@pytest.mark.parametrize("profile,old,new,message", [
    ("zhejiang", 'profile = "zhejiang"', 'profile = "beijing"', "province.profile (line"),
    ("zhejiang", 'area_code = "330201"', 'area_code = "33"', "province.area_code (line"),
    ("zhejiang", 'retry_max_s = 0.5', 'retry_max_s = 0.01', "province.retry_max_s"),
    ("zhejiang", 'url = "http', 'url = "ftp', "province.url"),
    ("zhejiang", '"服务态度差" = "501"', '"态度" = "501"', "province.eval_detail"),
    ("zhejiang", 'secret_file = "', 'secret_file = "/nonexistent', "province.secret_file"),
    ("zhejiang", 'dept_code = "11330200MB1234567X"', 'dept_code = "x"', "province.dept_code"),
    ("shandong", 'sm2_mode = "c1c3c2"', 'sm2_mode = "c2c1c3"', "province.sm2_mode"),
    ("shandong", 'platform_public_key = "04', 'platform_public_key = "05', "province.platform_public_key"),
    ("shandong", 'app_key = "', 'tenant_id = "37"\napp_key = "', "province.tenant_id"),
])
def test_impossible_values_are_refused_with_the_key_and_line(tmp_path, platform, profile, old, new, message):
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, platform, profile, {old: new})
    assert message in str(err.value)
    assert platform.password not in str(err.value) and platform.app_word not in str(err.value)


def test_an_off_curve_key_is_refused(tmp_path, platform):
    key = platform.public_key
    bad = key[:-2] + ("00" if key[-2:] != "00" else "01")
    with pytest.raises(ConfigError, match="not a point of the SM2 curve"):
        settings(tmp_path, platform, "shandong", {key: bad})


def test_unknown_keys_are_refused(tmp_path, platform):
    with pytest.raises(ConfigError, match="unknown key"):
        settings(tmp_path, platform, "zhejiang", {'area_name = "高新区"': 'area_nam = "x"'})
