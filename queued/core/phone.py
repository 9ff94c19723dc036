"""Phone numbers of citizens (the 差评 call-back and the 二次评价 link): checked strictly, masked
everywhere but the one page of the supervisor handling the follow-up.

Only mainland mobile numbers are taken (the call-back and the SMS both need one): 11 ASCII digits
`1[3-9]xxxxxxxxx`, optionally after `+86`, `86` or `0086`. Anything else (spaces, hyphens, full-width
digits, letters, a landline) is refused with a clear message, never "repaired": a number somebody
typed wrong must be corrected by a person, not guessed.
"""

from __future__ import annotations

import re

from queued.core.errors import CoreError

MOBILE = re.compile(r"1[3-9][0-9]{9}")
_PREFIXES = ("+86", "0086", "86")


class InvalidPhone(CoreError):
    code = "invalid_request"  # 422


def normalize_phone(raw: str, field: str = "phone") -> str:
    """'' stays '' (no phone given); else the 11-digit number, or InvalidPhone."""
    if not isinstance(raw, str):
        raise InvalidPhone(f"手机号须为文本（{field} must be a string）")
    if raw == "":
        return ""
    value = raw
    if len(value) > 11:
        for p in _PREFIXES:
            if value.startswith(p) and len(value) == len(p) + 11:
                value = value[len(p):]
                break
    if not (value.isascii() and MOBILE.fullmatch(value)):
        shown = raw[:20] if raw.isprintable() else repr(raw[:20])
        raise InvalidPhone(f"手机号格式不正确，请填写11位手机号码，如 13800138000（{field} is not a mainland mobile "
                           f"number: {shown!r}）")
    return value


def mask_phone(phone: str | None) -> str:
    """138****1234; '' for no phone."""
    if not phone:
        return ""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
