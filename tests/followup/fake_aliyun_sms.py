"""A local stand-in for Aliyun's SMS API (dysmsapi.aliyuncs.com): a real HTTP server in a thread
that takes SendSms as Aliyun does and checks what Aliyun checks, with Aliyun's error codes.

Checked, in Aliyun's order: the common parameters (Format, Version 2017-05-25, SignatureMethod
HMAC-SHA1, SignatureVersion 1.0), the Timestamp (ISO 8601 UTC, within 15 minutes:
InvalidTimeStamp.Expired), the AccessKeyId (InvalidAccessKeyId.NotFound), the signature computed
here from the received parameters (SignatureDoesNotMatch, HTTP 400), a reused SignatureNonce
(SignatureNonceUsed), then the business rules: the number (isv.MOBILE_NUMBER_ILLEGAL), the sign
(isv.SMS_SIGNATURE_ILLEGAL), the template (isv.SMS_TEMPLATE_ILLEGAL), its variables
(isv.TEMPLATE_MISSING_PARAMETERS), and flow control (isv.BUSINESS_LIMIT_CONTROL).

The signature check is written here from Aliyun's description, not imported from the code under
test: RFC 3986 percent-encoding (unreserved kept, space %20), sorted `k=v&…`, StringToSign
"POST&%2F&" + enc(query), Base64(HMAC-SHA1(secret + "&")).

Knobs: `limit_next` (answer the next N sends with isv.BUSINESS_LIMIT_CONTROL), `fail_next` (the
next N with isp.SYSTEM_ERROR, HTTP 500), `hang_next` (hold the next N requests `hang_s` seconds and
deliver nothing: a request the client gives up on or dies during).
`calls` records every request's parameters and answer code; `sent` the delivered messages.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fake_server import FakeServer

KEY_ID = "LTAI5tQx8WmZ3kFh2R7nYpVd"
SECRET = "qS4yZ9rB1vN7cX3mK8pW2tE6uH0jL5aF"
SIGN_NAME = "杭州市民中心"
TEMPLATE = "SMS_465120381"
TEMPLATE_VARS = ("hall", "token")
COMMON = ("AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod", "SignatureNonce", "SignatureVersion",
          "Timestamp", "Version", "Signature")


def _enc(s: str) -> str:
    return quote(s.encode("utf-8"), safe="~")


def expected_signature(secret: str, params: dict[str, str]) -> str:
    query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(params.items()) if k != "Signature")
    to_sign = "POST&" + _enc("/") + "&" + _enc(query)
    return base64.b64encode(hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


class FakeAliyunSms(FakeServer):
    what = "Aliyun SMS"

    def __init__(self):
        super().__init__()
        self.keys = {KEY_ID: SECRET}
        self.signs = {SIGN_NAME}
        self.templates = {TEMPLATE: TEMPLATE_VARS}
        self.limit_next = 0
        self.fail_next = 0
        self.hang_next = 0
        self.hang_s = 30.0
        self.calls: list[dict] = []
        self.sent: list[dict] = []
        self.nonces: set[str] = set()

    def routes(self) -> list[Route]:
        return [Route("/", self.endpoint, methods=["POST", "GET"])]

    def codes(self) -> list[str]:
        return [c["code"] for c in self.calls]

    # ---- the API -----------------------------------------------------------------------------

    async def endpoint(self, request: Request) -> JSONResponse:
        body = (await request.body()).decode("utf-8")
        pairs = parse_qsl(body, keep_blank_values=True) if request.method == "POST" else list(request.query_params.multi_items())
        params = dict(pairs)
        call = {"params": params, "code": None, "raw": body}
        self.calls.append(call)
        if self.hang_next:
            self.hang_next -= 1
            call["code"] = "hung"
            await asyncio.sleep(self.hang_s)
            return JSONResponse({"Code": "isp.SYSTEM_ERROR", "Message": "timeout"}, status_code=504)
        status, answer = self._judge(params)
        call["code"] = answer["Code"]
        answer.setdefault("RequestId", str(uuid.uuid4()).upper())
        return JSONResponse(answer, status_code=status)

    def _judge(self, p: dict[str, str]) -> tuple[int, dict]:
        def err(status: int, code: str, message: str) -> tuple[int, dict]:
            return status, {"Code": code, "Message": message}

        missing = [k for k in COMMON if not p.get(k)]
        if missing:
            return err(400, "MissingParameter", f"The input parameter \"{missing[0]}\" that is mandatory for "
                                                "processing this request is not supplied.")
        if p["Format"] != "JSON" or p["Version"] != "2017-05-25" or p["Action"] != "SendSms":
            return err(400, "InvalidParameter", "Format, Version or Action is not valid.")
        if p["SignatureMethod"] != "HMAC-SHA1" or p["SignatureVersion"] != "1.0":
            return err(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        try:
            ts = datetime.strptime(p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return err(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if abs(time.time() - ts) > 900:
            return err(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        secret = self.keys.get(p["AccessKeyId"])
        if secret is None:
            return err(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if not hmac.compare_digest(expected_signature(secret, p), p["Signature"]):
            return err(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        if p["SignatureNonce"] in self.nonces:
            return err(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self.nonces.add(p["SignatureNonce"])
        # Business rules: HTTP 200 with the isv./isp. code, as Aliyun answers them.
        phones = p.get("PhoneNumbers", "").split(",")
        if not all(re.fullmatch(r"(\+?86)?1[3-9]\d{9}", x) for x in phones):
            return err(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if p.get("SignName") not in self.signs:
            return err(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        need = self.templates.get(p.get("TemplateCode", ""))
        if need is None:
            return err(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values = json.loads(p.get("TemplateParam") or "{}")
        except ValueError:
            return err(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if not isinstance(values, dict) or any(not isinstance(values.get(k), str) or not values[k] for k in need):
            return err(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        if any(len(v) > 35 for v in values.values()):
            return err(200, "isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        if self.fail_next:
            self.fail_next -= 1
            return err(500, "isp.SYSTEM_ERROR", "系统错误")
        if self.limit_next:
            self.limit_next -= 1
            return err(200, "isv.BUSINESS_LIMIT_CONTROL", f"触发号码天级流控Permits:10 ({phones[0]})")
        biz = f"{int(time.time() * 1000) % 10**12}^{len(self.sent) + 1}"
        self.sent.append({"phone": phones[0], "sign": p["SignName"], "template": p["TemplateCode"],
                          "values": values, "out_id": p.get("OutId"), "biz_id": biz})
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz}
