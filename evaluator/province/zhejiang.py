"""The zhejiang profile (province.md §2.1): one form POST per rating to `offlinereport.do`, HTTP
Basic with the issued credential; the answer's `result`/`resultmsg` decide."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

from evaluator.province import records
from evaluator.province.redact import redact
from evaluator.province.transport import Outcome, TransportFailed, post


class Zhejiang:
    name = "zhejiang"

    def __init__(self, settings, hall, tz, client, clock):
        self.s, self.hall, self.tz, self.client, self.clock = settings, hall, tz, client, clock
        self.dept_codes: dict[str, str] = {}
        cred = f"{settings.app_key}:{settings.secret}".encode()
        self._auth = "Basic " + base64.b64encode(cred).decode()

    def record(self, row: dict) -> dict:
        # deptCode: the case's, else its business's ([[business]] dept_code), else [province] dept_code
        row = dict(row, dept_code=row["dept_code"] or self.dept_codes.get(row["business"]) or "")
        clerk = self.hall.clerk_index.get(row["clerk"]) if row["clerk"] else None
        return records.zhejiang_form(row, self.s, self.tz, clerk.name if clerk else (row["clerk"] or ""),
                                     self.hall.reasons)

    async def send(self, row: dict) -> Outcome:
        form = self.record(row)
        digest = records.digest(form, self.s.secret)
        known = (row["applicant_id"], row["applicant_phone"], row["applicant_name"])
        try:
            answer = await post(self.client, self.s.url, self.s.timeout_s, content=urlencode(form).encode(),
                                headers={"Authorization": self._auth,
                                         "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
        except TransportFailed as exc:
            exc.outcome.digest = digest
            return exc.outcome
        out = classify(answer.status, answer.text, self.s.accepted_results, self.s.duplicate_text)
        out.body, out.message, out.digest = redact(answer.text, *known), redact(out.message, *known), digest
        return out


def classify(status: int, text: str, accepted: tuple[str, ...], duplicate_text: str) -> Outcome:
    """Any non-200 is a failure (retried); a 200 that is not a result object is a gateway's page, not
    the platform's verdict (retried); otherwise duplicate, accepted, or rejected (not retried)."""
    if status != 200:
        return Outcome("failed", status, code=f"http_{status}", message=f"省平台返回 HTTP {status}")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or "result" not in data:
        return Outcome("failed", status, code="bad_answer", message="省平台应答不是 result/resultmsg 格式")
    result, msg = str(data.get("result")), str(data.get("resultmsg") or "")
    if duplicate_text in msg:
        return Outcome("duplicate", status, code=result, message=msg)
    if result in accepted:
        return Outcome("accepted", status, code=result, message=msg)
    return Outcome("rejected", status, code=result, message=msg or "省平台拒收（未给出原因）")
