"""The shandong profile (province.md §2.2): a JSON envelope whose `sign` is the SM2 encryption of
time ‖ appMark ‖ appWord and whose `params.evaluate[0]` is the SM2-encrypted record; the 办件服务
record of (projectNo, serviceNumber) goes first, its rating after it is accepted (D5)."""

from __future__ import annotations

import json
from collections import OrderedDict

from evaluator.province import records
from evaluator.province.errors import CryptoError
from evaluator.province.redact import redact
from evaluator.province.sm2 import Sm2Worker
from evaluator.province.transport import Outcome, TransportFailed, post

DUPLICATE = "评价数据不可重复"


class Shandong:
    name = "shandong"

    def __init__(self, settings, hall, tz, client, clock, crypto: Sm2Worker | None = None):
        self.s, self.hall, self.tz, self.client, self.clock = settings, hall, tz, client, clock
        self.dept_codes: dict[str, str] = {}
        self.crypto = crypto or Sm2Worker(settings.public_key, settings.sm2_mode)
        self._sign: tuple[str, str] | None = None  # (time, sign): one encryption per second at most
        # A retry sends the very ciphertext of its first try (same payload, D1) without paying the
        # ~9 ms encryption again: a day-long outage retries every record about 30 times.
        self._ciphers: OrderedDict[tuple[int, str], str] = OrderedDict()
        self.cipher_cache = 2048

    def record(self, row: dict) -> dict:
        # deptCode: the case's, else its business's ([[business]] dept_code), else [province] dept_code
        row = dict(row, dept_code=row["dept_code"] or self.dept_codes.get(row["business"]) or "")
        if row["step"] == "service":
            clerk = self.hall.clerk_index.get(row["clerk"]) if row["clerk"] else None
            return records.shandong_service(row, self.s, self.tz, clerk.name if clerk else (row["clerk"] or ""))
        return records.shandong_rating(row, self.s, self.tz, self.hall.reasons)

    async def sign(self, time_text: str) -> str:
        if self._sign is None or self._sign[0] != time_text:
            text = time_text + self.s.app_key + self.s.secret
            self._sign = (time_text, await self.crypto.encrypt(text.encode()))
        return self._sign[1]

    async def payload(self, outbox_id: int, digest: str, record: dict) -> str:
        key = (outbox_id, digest)
        hit = self._ciphers.get(key)
        if hit is not None:
            self._ciphers.move_to_end(key)
            return hit
        cipher = await self.crypto.encrypt(json.dumps([record], ensure_ascii=False).encode())
        self._ciphers[key] = cipher
        while len(self._ciphers) > self.cipher_cache:
            self._ciphers.popitem(last=False)
        return cipher

    async def send(self, row: dict) -> Outcome:
        record = self.record(row)
        digest = records.digest(record, self.s.secret)
        known = (row["applicant_id"], row["applicant_phone"], row["applicant_name"])
        time_text = records.when(self.clock(), self.tz, "%Y%m%d%H%M%S")  # now, never moved back (D8)
        try:
            sign = await self.sign(time_text)
            evaluate = await self.payload(row["id"], digest, record)
        except CryptoError as exc:
            return Outcome("failed", code="crypto", message=f"SM2 加密失败（{exc}）", digest=digest)
        envelope = {"txnBodyCom": {"appMark": self.s.app_key, "time": time_text, "sign": sign,
                                   "params": {"evaluate": [evaluate]}}, "txnCommCom": {}}
        url = self.s.service_url if row["step"] == "service" else self.s.rating_url
        try:
            answer = await post(self.client, url, self.s.timeout_s, content=json.dumps(envelope).encode(),
                                headers={"Content-Type": "application/json", "C-Tenancy-Id": self.s.tenant_id})
        except TransportFailed as exc:
            exc.outcome.digest = digest
            return exc.outcome
        out = classify(answer.status, answer.text)
        out.body, out.message, out.digest = redact(answer.text, *known), redact(out.message, *known), digest
        return out

    def close(self) -> None:
        self.crypto.close()


def classify(status: int, text: str) -> Outcome:
    """The four receipts of §2.2: accepted, rejected (body success "false", not retried), duplicate
    (评价数据不可重复, delivered), and everything else a gateway/platform failure (retried)."""
    if status != 200:
        return Outcome("failed", status, code=f"http_{status}", message=f"省平台返回 HTTP {status}")
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return Outcome("failed", status, code="bad_answer", message="省平台应答为空或不是 JSON")
    desc = str(data.get("C-Response-Desc") or "")
    if DUPLICATE in desc:
        return Outcome("duplicate", status, code="duplicate", message=desc)
    if desc != "success":
        return Outcome("failed", status, code="gateway", message=f"网关失败：{desc or '（无说明）'}")
    body = data.get("C-Response-Body")
    success = str(body.get("success")).lower() if isinstance(body, dict) else ""
    message = str(body.get("message") or "") if isinstance(body, dict) else ""
    if success == "true":
        return Outcome("accepted", status, code="success", message=message or "success")
    if success == "false":
        if DUPLICATE in message:
            return Outcome("duplicate", status, code="duplicate", message=message)
        return Outcome("rejected", status, code="false", message=message or "省平台拒收（未给出原因）")
    return Outcome("failed", status, code="gateway", message="省平台应答缺少 C-Response-Body.success")
