"""What a call says (请A001号到3号窗口办理), as units a clip set can say or as text for espeak-ng.

Pure: no I/O. Ticket numbers are read one character at a time (A 零 零 一, as halls announce them);
the window part is said as written (3号窗口 → 三号窗口, 12号窗口 → 十二号窗口), matched against the
clip names greedily, longest first, so a hall may record "12" or "综合窗口" whole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

DIGIT_TEXT = "零一二三四五六七八九"
# Clips every hall's folder must hold (letters: those of its business codes, checked at start).
REQUIRED_UNITS = ("请", "号", "到", "窗口", "办理", *"0123456789")


def unit_name(text: str) -> str:
    """How a clip's file name is compared: NFC, Latin letters in capitals."""
    return unicodedata.normalize("NFC", text).upper()


@dataclass(frozen=True, slots=True)
class Phrase:
    ticket: str  # A001
    window_label: str  # 3号窗口

    @property
    def text(self) -> str:
        """The written call, as the `speech` field of mqtt.md carries it."""
        return f"请{self.ticket}号到{self.window_label}办理"

    def units(self, known: Collection[str]) -> list[str] | None:
        """The clips to play in order, or None when something has no clip."""
        out = ["请"]
        for ch in self.ticket:
            name = unit_name(ch)
            if name not in known:
                return None
            out.append(name)
        out += ["号", "到"]
        label = self.split(self.window_label, known)
        if label is None:
            return None
        return [*out, *label, "办理"]

    @staticmethod
    def split(text: str, known: Collection[str]) -> list[str] | None:
        """`text` as the longest clip names that spell it (spaces skipped), or None."""
        text = unit_name(text)
        longest = max((len(k) for k in known), default=0)
        out: list[str] = []
        i = 0
        while i < len(text):
            if text[i].isspace():
                i += 1
                continue
            for n in range(min(longest, len(text) - i), 0, -1):
                if text[i:i + n] in known:
                    out.append(text[i:i + n])
                    i += n
                    break
            else:
                return None
        return out

    def engine_text(self) -> str:
        """The call for a speech engine: the ticket's letters and digits one by one (digits as
        Chinese numerals, or espeak-ng reads 012 as 十二), a pause before the window."""
        spelled = " ".join(DIGIT_TEXT[int(ch)] if ch in "0123456789" else ch for ch in self.ticket)
        return f"请 {spelled} 号，到 {self.window_label} 办理"
