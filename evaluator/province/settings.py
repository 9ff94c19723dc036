"""`[province]`: checked once at start, so the sender never meets an impossible value.

queued/config.py type-checks the keys (queued/config_schema.py SCHEMA["province"]) and keeps the
line of each; this module checks what the values mean (URLs, codes, the SM2 key, the secret file)
and builds `ProvinceSettings`. Secrets are read here and never printed: `repr` hides them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluator.province.errors import CryptoError, ProvinceConfigError
from evaluator.province.sm2 import MODES, parse_public_key

PROFILES = ("zhejiang", "shandong")
DATA_SOURCE = {"zhejiang": "133", "shandong": "165"}  # province.md §1 dataSource
PROJECT_PREFIX = {"zhejiang": "", "shandong": "37"}  # sd projectNo = "37" + the local number
# promiseTime: zhejiang writes 承诺件=1, 即办件=2; shandong 即办件=1, 承诺办件=2 (province.md §1)
PROMISE_CODE = {("zhejiang", "immediate"): "2", ("zhejiang", "promised"): "1",
                ("shandong", "immediate"): "1", ("shandong", "promised"): "2"}
_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(/[^\s]*)?$")


@dataclass(frozen=True)
class ProvinceSettings:
    profile: str
    app_key: str  # zhejiang: the Basic user; shandong: appMark
    secret: str = field(repr=False)  # zhejiang: the Basic password; shandong: appWord
    area_code: str
    dept_code: str
    timeout_s: float = 10.0
    retry_base_s: float = 30.0
    retry_max_s: float = 3600.0
    max_rate: float = 20.0  # requests a second at most (extension): a backlog drains without crowding the hall
    url: str = ""  # zhejiang: offlinereport.do
    service_url: str = ""  # shandong: HcpProjectSubmitUrl
    rating_url: str = ""  # shandong: HcpOfflineTempUrl
    tenant_id: str = "370000000000"
    public_key: str = ""  # shandong: x ‖ y, 128 hex digits
    sm2_mode: str = "c1c3c2"
    data_source: str = ""
    accepted_results: tuple[str, ...] = ("0",)
    duplicate_text: str = "重复"
    eval_detail: dict[int, str] = field(default_factory=dict)  # reason bit → code
    area_name: str = ""
    depart_code: str = ""
    depart_name: str = ""
    task_type: str = "01"
    promise_code: str = ""
    project_prefix: str = ""
    send_mobile: bool = True

    @property
    def has_default_code(self) -> bool:
        """Only zhejiang has a code for a 系统默认评价 (pf=7)."""
        return self.profile == "zhejiang"

    @property
    def two_step(self) -> bool:
        """shandong: the service record goes first (D5)."""
        return self.profile == "shandong"


def parse(raw: dict[str, Any] | None, reasons: tuple[str, ...], source_dir: Path | None = None) -> ProvinceSettings | None:
    """`[province]` as checked by queued/config.py (or None when absent) → settings, or ProvinceConfigError."""
    if raw is None:
        return None
    lines: dict[str, int | None] = raw.get("_lines", {})

    def fail(key: str, message: str) -> ProvinceConfigError:
        line = lines.get(key) or lines.get("")
        where = f" (line {line})" if line else ""
        return ProvinceConfigError(f"config: province.{key}{where}: {message}")

    profile = raw["profile"]
    if profile not in PROFILES:
        raise fail("profile", f"expected one of {', '.join(PROFILES)} (province.md §2), got {profile!r}")
    if not raw["app_key"].strip() or len(raw["app_key"]) > 200:
        raise fail("app_key", "is required (zhejiang: the Basic user; shandong: appMark)")
    if not raw["secret_file"]:
        raise fail("secret_file", "is required (zhejiang: the Basic password; shandong: appWord)")
    path = Path(raw["secret_file"])
    if source_dir is not None and not path.is_absolute():
        path = source_dir / path
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail("secret_file", f"cannot read: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    if not secret or "\n" in secret or len(secret) > 500:
        raise fail("secret_file", "must hold one line, the secret itself")
    if profile == "zhejiang" and ":" in raw["app_key"]:
        raise fail("app_key", "the Basic user cannot contain ':'")

    area = raw["area_code"]
    if re.fullmatch(r"\d{6}", area):
        area += "000000"
    if not re.fullmatch(r"\d{12}", area):
        raise fail("area_code", "expected a 12-digit 行政区划 code (or 6 digits, padded with 000000)")
    dept = raw["dept_code"]
    if dept and not re.fullmatch(r"[0-9A-Z]{18}", dept):
        raise fail("dept_code", "expected an 18-character 统一社会信用代码")
    if not dept:
        raise fail("dept_code", "is required: the default department's 统一社会信用代码 (deptCode)")
    t, base, cap = float(raw["timeout_s"]), float(raw["retry_base_s"]), float(raw["retry_max_s"])
    if not 0.05 <= t <= 300:
        raise fail("timeout_s", "must be 0.05..300 seconds")
    if not 0.01 <= base <= 86400:
        raise fail("retry_base_s", "must be 0.01..86400 seconds")
    if not base <= cap <= 7 * 86400:
        raise fail("retry_max_s", "must be at least retry_base_s and at most a week")
    rate = float(raw["max_rate"])
    if not 0.1 <= rate <= 10000:
        raise fail("max_rate", "must be 0.1..10000 requests a second")

    def url(key: str, base_url: str = "") -> str:
        value = raw[key].strip()
        if base_url and value.startswith("/"):
            value = base_url.rstrip("/") + value
        if not _URL.match(value):
            raise fail(key, "expected an http:// or https:// URL")
        return value

    out: dict[str, Any] = {}
    if profile == "zhejiang":
        out["url"] = url("url")
        acc = raw["accepted_results"]
        if not acc or not all(isinstance(x, str) and x for x in acc):
            raise fail("accepted_results", 'expected a list of result codes meaning accepted, e.g. ["0"]')
        out["accepted_results"] = tuple(acc)
        if not raw["duplicate_text"]:
            raise fail("duplicate_text", "must not be empty (a resultmsg substring meaning duplicate)")
        out["duplicate_text"] = raw["duplicate_text"]
    else:
        base_url = raw["url"].strip()
        if base_url and not _URL.match(base_url):
            raise fail("url", "expected an http:// or https:// URL (the base of service_url and rating_url)")
        out["service_url"] = url("service_url", base_url)
        out["rating_url"] = url("rating_url", base_url)
        if not re.fullmatch(r"\d{12}", raw["tenant_id"]):
            raise fail("tenant_id", "expected the 12-digit gateway tenant (C-Tenancy-Id), e.g. 370000000000")
        out["tenant_id"] = raw["tenant_id"]
        try:
            out["public_key"] = parse_public_key(raw["platform_public_key"])
        except CryptoError as exc:
            raise fail("platform_public_key", str(exc)) from None
        mode = raw["sm2_mode"].lower()
        if mode not in MODES:
            raise fail("sm2_mode", f"expected {' or '.join(MODES)}")
        out["sm2_mode"] = mode

    data_source = raw["data_source"] or DATA_SOURCE[profile]
    if not re.fullmatch(r"\d{1,3}", data_source):
        raise fail("data_source", "expected a 3-digit 数据来源 code")
    table = raw["eval_detail"]
    codes: dict[int, str] = {}
    for reason, code in table.items():
        if reason not in reasons:
            raise fail("eval_detail", f"{reason!r} is not one of [hall] reasons ({'、'.join(reasons)})")
        if not isinstance(code, str) or not re.fullmatch(r"[0-9A-Za-z_-]{1,20}", code):
            raise fail("eval_detail", f"the code of {reason!r} must be a short string of letters or digits")
        codes[reasons.index(reason)] = code
    if raw["promise"] not in ("immediate", "promised"):
        raise fail("promise", "expected immediate (即办件) or promised (承诺件)")
    if not re.fullmatch(r"\d{2}", raw["task_type"]):
        raise fail("task_type", "expected a 2-digit 事项类型 code")
    if raw["depart_code"] and len(raw["depart_code"]) > 50:
        raise fail("depart_code", "longer than 50 characters")
    prefix = raw["project_prefix"] or PROJECT_PREFIX[profile]
    if not re.fullmatch(r"[0-9A-Za-z]{0,6}", prefix):
        raise fail("project_prefix", "expected up to 6 letters or digits")
    return ProvinceSettings(
        profile=profile, app_key=raw["app_key"].strip(), secret=secret, area_code=area, dept_code=dept,
        timeout_s=t, retry_base_s=base, retry_max_s=cap, max_rate=rate, data_source=data_source, eval_detail=codes,
        area_name=raw["area_name"], depart_code=raw["depart_code"], depart_name=raw["depart_name"],
        task_type=raw["task_type"], promise_code=PROMISE_CODE[(profile, raw["promise"])],
        project_prefix=prefix, send_mobile=raw["send_mobile"], **out)
