"""Text the hall can store, and the check every command passes before it is decided.

The journal writes each event as UTF-8 JSON into SQLite. An unpaired surrogate ("\\ud800", which
JSON escapes can carry and Python strings can hold) cannot be encoded as UTF-8, so one such string
in an event made the journal write fail and the daemon fail-stop, again after every restart; a NUL
is stored, but SQLite's own text functions stop at it. `check_command` refuses both in any string
of a command (nested lists and dicts too) *before* the decision, whoever sent it: the HTTP edge
refuses them earlier and more strictly, but a pad, a timer or a future route may not.

`text_problem` is the edge's stricter rule for text from outside (HTTP, cookies, the CLI, the
config): no surrogates and no control characters (C0, DEL, C1), with line breaks and tabs allowed
only where free text is expected (`free=True`: comments, notes).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from queued.core.errors import BadText

# C0 controls but tab, LF and CR; DEL and the C1 controls; the surrogate range.
_CONTROL_FREE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# The same with tab, LF and CR: identifiers, query and path parameters, config values.
_CONTROL_ANY = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Header values (cookies) arrive decoded as Latin-1, where UTF-8 bytes look like C1 controls: only the
# ASCII controls, which no browser sends in a cookie, are refused there.
_CONTROL_ASCII = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def text_problem(value: str, free: bool = False, header: bool = False) -> str | None:
    """Why `value` is not acceptable text from outside, or None when it is."""
    if value.isprintable():  # every character the rules refuse is a control or a surrogate
        return None
    m = (_CONTROL_ASCII if header else _CONTROL_FREE if free else _CONTROL_ANY).search(value)
    if m is None:
        return None
    ch = m.group()
    if "\ud800" <= ch <= "\udfff":
        return f"an unpaired surrogate U+{ord(ch):04X} (not valid text)"
    return f"the control character U+{ord(ch):04X}"


def storable(value: str) -> bool:
    """True when the journal can store `value` exactly: UTF-8 encodable and without NUL."""
    if value.isascii():  # the common case costs one C scan
        return "\x00" not in value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        if dataclasses.is_dataclass(cls):
            names = tuple(f.name for f in dataclasses.fields(cls))
        else:
            names = ()
        _FIELDS[cls] = names
    return names


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, str):
        if not storable(value):
            raise BadText(f"{where} 含有无法保存的字符（{where!s} holds text that cannot be stored: "
                          f"an unpaired surrogate or a NUL）")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check_value(item, where)
    elif isinstance(value, dict):
        for k, item in value.items():
            _check_value(k, where)
            _check_value(item, where)


def check_command(cmd: object) -> None:
    """Raise BadText when any string of `cmd` cannot be journaled; nothing else is looked at."""
    names = _FIELDS.get(cmd.__class__)
    if names is None:
        names = _field_names(cmd.__class__)
    if not names:
        for name, value in getattr(cmd, "__dict__", {}).items():
            _check_value(value, name)
        return
    texts = []
    for name in names:
        value = getattr(cmd, name)
        if value.__class__ is str:
            texts.append(value)
        elif value is not None and value.__class__ not in _SCALARS:
            _check_value(value, name)
    # Printable text has neither a surrogate nor a NUL: one C scan for the whole command decides
    # nearly every one (the kiosk's, the clerk's); the rest are looked at field by field.
    if texts and not "".join(texts).isprintable():
        for name in names:
            value = getattr(cmd, name)
            if value.__class__ is str and not storable(value):
                _check_value(value, name)


_SCALARS = (int, float, bool)
