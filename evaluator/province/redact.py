"""Personal data out of everything we keep or print (D12): ID numbers and phones become
`110***********1234` (first 3 and last 4 kept, province.md §1), in receipts, errors and logs."""

from __future__ import annotations

import re

# 18-digit 居民身份证 (last may be X), 15-digit old ones, 18-character 统一社会信用代码, mobile numbers.
_PATTERNS = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15}|[0-9A-HJ-NP-RTUW-Y]{2}\d{6}[0-9A-HJ-NP-RTUW-Y]{10}"
                       r"|1[3-9]\d{9})(?![0-9A-Za-z])")
MAX_KEPT = 2000


def mask(value: str) -> str:
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def redact(text: str, *known: str | None, limit: int = MAX_KEPT) -> str:
    """`text` with the known personal values (the applicant's ID, phone, name) and anything shaped
    like an ID number or a phone masked, cut to `limit` characters."""
    if not text:
        return ""
    for value in known:
        if value and len(value) >= 2 and value in text:
            text = text.replace(value, mask(value) if len(value) > 7 else value[0] + "*" * (len(value) - 1))
    text = _PATTERNS.sub(lambda m: mask(m.group(1)), text)
    return text if len(text) <= limit else text[:limit] + "…"
