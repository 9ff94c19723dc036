"""SMS through Aliyun's 短信服务 (dysmsapi, action SendSms, API version 2017-05-25), signed with
Aliyun's RPC signature v1 (HMAC-SHA1), as Aliyun documents it:

1. every request parameter but `Signature`, sorted by name; names and values percent-encoded in
   UTF-8 per RFC 3986 (A–Z a–z 0–9 - _ . ~ kept, a space is %20, never +), joined `k=v` with `&`;
2. StringToSign = METHOD + "&" + enc("/") + "&" + enc(that canonical query string);
3. Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).

The request is a POST of the form (the parameters and `Signature`) to the endpoint. An answer has
`Code`: "OK" (sent, with `BizId`) or the provider's error code. Which codes are worth another try
later (`TRANSIENT`: flow control, the provider's own trouble) and which need a person (a bad number,
a template or signature not approved, a wrong key, no balance) decides what the sender does.

`[sms]` (docs/followup.md): provider "aliyun", access_key_id, the secret from the environment
(QUEUED_SMS_ACCESS_KEY_SECRET) or `access_key_secret_file`, sign_name, template_code, endpoint,
region, timeout_s. The secret is never printed (`repr` hides it) and never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx

from evaluator.errors import EvaluatorError
from evaluator.province.redact import redact

ENV_SECRET = "QUEUED_SMS_ACCESS_KEY_SECRET"
VERSION = "2017-05-25"
# Worth another try later: flow control (per number per minute/hour/day), the provider's trouble.
TRANSIENT = {"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "Throttling.User", "Throttling",
             "ServiceUnavailable", "InternalError", "SignatureNonceUsed"}
CODE_TEXT = {
    "isv.BUSINESS_LIMIT_CONTROL": "短信发送频率超限（运营商流控），稍后自动重试",
    "isv.MOBILE_NUMBER_ILLEGAL": "手机号码格式错误",
    "isv.SMS_TEMPLATE_ILLEGAL": "短信模板未审核通过或不存在，请检查 [sms] template_code",
    "isv.SMS_SIGNATURE_ILLEGAL": "短信签名未审核通过或不存在，请检查 [sms] sign_name",
    "isv.AMOUNT_NOT_ENOUGH": "短信账户余额不足",
    "isv.OUT_OF_SERVICE": "短信业务已停机（欠费）",
    "isv.TEMPLATE_MISSING_PARAMETERS": "短信模板变量缺失",
    "InvalidAccessKeyId.NotFound": "AccessKeyId 不存在，请检查 [sms] access_key_id",
    "SignatureDoesNotMatch": "签名不匹配，请检查 AccessKey Secret",
    "isp.SYSTEM_ERROR": "短信平台系统错误，稍后自动重试",
    "network": "无法连接短信平台，稍后自动重试",
}
_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+/?$")


class SmsConfigError(EvaluatorError):
    code = "config_error"


class SmsError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT or self.code == "network" or (self.status or 0) >= 500

    @property
    def text(self) -> str:
        return CODE_TEXT.get(self.code, self.message)


def percent(value: str) -> str:
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    query = "&".join(f"{percent(k)}={percent(params[k])}" for k in sorted(params) if k != "Signature")
    return f"{method}&{percent('/')}&{percent(query)}"


def sign(secret: str, method: str, params: dict[str, str]) -> str:
    digest = hmac.new((secret + "&").encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class SmsSettings:
    access_key_id: str
    secret: str = field(repr=False)
    sign_name: str
    template_code: str
    endpoint: str = "https://dysmsapi.aliyuncs.com"
    region: str = "cn-hangzhou"
    timeout_s: float = 5.0
    max_attempts: int = 6


def settings_from(section: dict | None, env: dict | None = None) -> SmsSettings | None:
    """None when [sms] is absent; SmsConfigError naming the key for an impossible value."""
    if not section:
        return None
    env = os.environ if env is None else env
    lines = section.get("_lines", {})

    def bad(key: str, msg: str) -> SmsConfigError:
        line = lines.get(key) or lines.get("")
        return SmsConfigError(f"[sms] {key}: {msg}" + (f" (line {line})" if line else ""))

    if section.get("provider", "aliyun") != "aliyun":
        raise bad("provider", 'expected "aliyun"')
    for key in ("access_key_id", "sign_name", "template_code"):
        if not str(section.get(key) or "").strip():
            raise bad(key, "is required with [sms]")
    secret = env.get(ENV_SECRET, "").strip()
    if not secret:
        path = section.get("access_key_secret_file") or ""
        if not path:
            raise bad("access_key_secret_file", f"is required unless {ENV_SECRET} is set")
        try:
            secret = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise bad("access_key_secret_file", f"cannot read: {getattr(exc, 'strerror', None) or 'not UTF-8'}") from None
        if not secret:
            raise bad("access_key_secret_file", "is empty")
    endpoint = str(section.get("endpoint") or "https://dysmsapi.aliyuncs.com").rstrip("/")
    if not _URL.match(endpoint + "/"):
        raise bad("endpoint", "expected http(s)://HOST[:PORT]")
    timeout = section.get("timeout_s", 5)
    if not 0.5 <= float(timeout) <= 60:
        raise bad("timeout_s", "must be 0.5..60")
    attempts = int(section.get("max_attempts", 6))
    if not 1 <= attempts <= 20:
        raise bad("max_attempts", "must be 1..20")
    return SmsSettings(section["access_key_id"].strip(), secret, section["sign_name"].strip(),
                       section["template_code"].strip(), endpoint, section.get("region") or "cn-hangzhou",
                       float(timeout), attempts)


class AliyunSms:
    def __init__(self, settings: SmsSettings):
        self.s = settings
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout_s, connect=min(3.0, settings.timeout_s)))

    async def close(self) -> None:
        await self.http.aclose()

    def params(self, phone: str, template_param: dict[str, str], out_id: str = "") -> dict[str, str]:
        p = {
            "AccessKeyId": self.s.access_key_id, "Action": "SendSms", "Format": "JSON", "PhoneNumbers": phone,
            "RegionId": self.s.region, "SignName": self.s.sign_name, "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": secrets.token_hex(16), "SignatureVersion": "1.0",
            "TemplateCode": self.s.template_code,
            "TemplateParam": json.dumps(template_param, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": VERSION,
        }
        if out_id:
            p["OutId"] = out_id
        p["Signature"] = sign(self.s.secret, "POST", p)
        return p

    async def send(self, phone: str, template_param: dict[str, str], out_id: str = "") -> str:
        """Send one message; the provider's BizId, or SmsError (its message redacted of the phone)."""
        body = "&".join(f"{percent(k)}={percent(v)}" for k, v in self.params(phone, template_param, out_id).items())
        try:
            r = await self.http.post(self.s.endpoint + "/", content=body,
                                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        except httpx.HTTPError as exc:
            raise SmsError("network", type(exc).__name__) from None
        try:
            data = r.json()
        except ValueError:
            raise SmsError(f"http_{r.status_code}", redact(r.text[:200], phone), r.status_code) from None
        code = str(data.get("Code") or f"http_{r.status_code}")
        if code == "OK" and r.status_code == 200:
            return str(data.get("BizId") or "")
        raise SmsError(code, redact(str(data.get("Message") or ""), phone)[:300], r.status_code)
