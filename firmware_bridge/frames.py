"""QPad v1 frames as typed values, and their payloads on the wire.

One frozen dataclass per CMD (serial-protocol.md, "Host → pad" and "Pad → host"). Every frame carries
``addr`` and ``seq`` as keyword-only fields with default 0, so the daemon can build a command without
them (``ShowState(WindowState.SERVING, 12, "A001")``) and let the poller fill them in.

``encode(frame)`` gives the complete wire frame (SOF .. CRC). It never produces an invalid frame: a
number out of range raises ``EncodeError``; text that does not fit is truncated (on a character
boundary) so that LEN stays <= 200, and characters GBK lacks become "?".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import ClassVar

from .crc import crc16_modbus
from .errors import EncodeError, PayloadError

SOF = b"\xa5\x5a"
HEADER_SIZE = 6  # SOF1 SOF2 ADDR CMD SEQ LEN
CRC_SIZE = 2
MAX_PAYLOAD = 200
MAX_FRAME_SIZE = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
BROADCAST_ADDR = 0
MAX_PAD_ADDR = 247


class KeyCode(IntEnum):
    """Clerk-side keys. ``topic_name`` is the stable name used on the MQTT pad topics."""

    CALL_NEXT = 0x01
    RECALL = 0x02
    SKIP = 0x03
    PAUSE = 0x04
    RESUME = 0x05
    FINISH = 0x06
    TRANSFER = 0x07  # ARG = 1-based index of the target business

    @property
    def topic_name(self) -> str:
        return _KEY_TOPIC_NAMES[self]

    @property
    def label(self) -> str:
        return _KEY_LABELS[self]

    @classmethod
    def from_topic_name(cls, name: str) -> KeyCode:
        try:
            return _KEYS_BY_TOPIC_NAME[name]
        except KeyError:
            raise ValueError(f"unknown key name {name!r}") from None


# Spelled out rather than derived from the member names, so renaming a member never renames a topic.
_KEY_TOPIC_NAMES = {
    KeyCode.CALL_NEXT: "call_next",
    KeyCode.RECALL: "recall",
    KeyCode.SKIP: "skip",
    KeyCode.PAUSE: "pause",
    KeyCode.RESUME: "resume",
    KeyCode.FINISH: "finish",
    KeyCode.TRANSFER: "transfer",
}
_KEYS_BY_TOPIC_NAME = {name: key for key, name in _KEY_TOPIC_NAMES.items()}
_KEY_LABELS = {
    KeyCode.CALL_NEXT: "呼叫",
    KeyCode.RECALL: "重呼",
    KeyCode.SKIP: "过号",
    KeyCode.PAUSE: "暂停",
    KeyCode.RESUME: "恢复",
    KeyCode.FINISH: "办结",
    KeyCode.TRANSFER: "转移",
}


class WindowState(IntEnum):
    IDLE = 0
    CALLING = 1
    SERVING = 2
    PAUSED = 3
    CLOSED = 4


class RatingLevel(IntEnum):
    """National interface numbering: 5 is best. Levels 2 and 1 are 差评."""

    VERY_DISSATISFIED = 1  # 非常不满意
    DISSATISFIED = 2  # 不满意
    FAIRLY_SATISFIED = 3  # 基本满意
    SATISFIED = 4  # 满意
    VERY_SATISFIED = 5  # 非常满意

    @property
    def label(self) -> str:
        return ("", "非常不满意", "不满意", "基本满意", "满意", "非常满意")[self]

    @property
    def is_bad(self) -> bool:
        return self <= RatingLevel.DISSATISFIED


class StatusFlags(IntFlag):
    RATING_PROMPT_OPEN = 0x01
    KEYS_LOCKED = 0x02


class NakCode(IntEnum):
    BAD_PAYLOAD = 1
    UNKNOWN_COMMAND = 2
    BUSY = 3


@dataclass(frozen=True, slots=True)
class _Frame:
    CMD: ClassVar[int]
    addr: int = field(default=0, kw_only=True)
    seq: int = field(default=0, kw_only=True)


# ---- host -> pad ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Poll(_Frame):
    CMD: ClassVar[int] = 0x01
    ack: int = 0  # EVT of the last pad event the host processed, 0 if none


@dataclass(frozen=True, slots=True)
class ShowClerk(_Frame):
    CMD: ClassVar[int] = 0x02
    stars: int
    clerk_id: str  # 工号, ASCII
    name: str  # GBK on the wire


@dataclass(frozen=True, slots=True)
class ShowState(_Frame):
    CMD: ClassVar[int] = 0x03
    state: WindowState
    waiting: int
    ticket: str = ""


@dataclass(frozen=True, slots=True)
class RateRequest(_Frame):
    CMD: ClassVar[int] = 0x04
    case: int
    timeout_s: int
    ticket: str = ""


@dataclass(frozen=True, slots=True)
class RateCancel(_Frame):
    CMD: ClassVar[int] = 0x05
    case: int


@dataclass(frozen=True, slots=True)
class SetTime(_Frame):
    CMD: ClassVar[int] = 0x06
    epoch: int  # seconds, UTC


@dataclass(frozen=True, slots=True)
class ShowParked(_Frame):
    """Extension 0x07 (docs/pads.md): the window's 挂起 cases, oldest first. A pad whose firmware
    predates it answers NAK 2; the host then stops sending it to that pad (link.py)."""

    CMD: ClassVar[int] = 0x07
    tickets: tuple[str, ...] = ()  # the numbers that fit in the frame, oldest first
    count: int = -1  # cases parked, which may be more than the numbers given; -1: len(tickets)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tickets", tuple(self.tickets))
        if self.count == -1:
            object.__setattr__(self, "count", len(self.tickets))


# ---- pad -> host ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status(_Frame):
    CMD: ClassVar[int] = 0x80
    flags: StatusFlags = StatusFlags(0)
    fw_major: int = 1
    fw_minor: int = 0
    pending: int = 0  # events queued in the pad


@dataclass(frozen=True, slots=True)
class Key(_Frame):
    CMD: ClassVar[int] = 0x81
    evt: int
    key: KeyCode
    arg: int = 0


@dataclass(frozen=True, slots=True)
class Rating(_Frame):
    CMD: ClassVar[int] = 0x82
    evt: int
    case: int
    level: RatingLevel
    reasons: int = 0  # bit i = reason i+1 of the hall's 差评原因 list


@dataclass(frozen=True, slots=True)
class RateTimeout(_Frame):
    CMD: ClassVar[int] = 0x83
    evt: int
    case: int


@dataclass(frozen=True, slots=True)
class Nak(_Frame):
    CMD: ClassVar[int] = 0x8F
    code: NakCode


HostCommand = Poll | ShowClerk | ShowState | RateRequest | RateCancel | SetTime | ShowParked
PadReply = Status | Key | Rating | RateTimeout | Nak
PadEvent = Key | Rating | RateTimeout  # the replies that carry an EVT and must be acknowledged
Frame = HostCommand | PadReply

HOST_COMMAND_TYPES: dict[int, type] = {
    t.CMD: t for t in (Poll, ShowClerk, ShowState, RateRequest, RateCancel, SetTime, ShowParked)}
PAD_REPLY_TYPES: dict[int, type] = {t.CMD: t for t in (Status, Key, Rating, RateTimeout, Nak)}
FRAME_TYPES: dict[int, type] = {**HOST_COMMAND_TYPES, **PAD_REPLY_TYPES}
EVENT_TYPES = (Key, Rating, RateTimeout)

# Stable names for counters and logs ("events by type").
EVENT_TYPE_NAMES = {Key: "key", Rating: "rating", RateTimeout: "rate_timeout"}


def is_host_command(cmd: int) -> bool:
    return cmd in HOST_COMMAND_TYPES


def is_pad_reply(cmd: int) -> bool:
    return cmd in PAD_REPLY_TYPES


# ---- encoding ---------------------------------------------------------------------------------


def _check(name: str, value: int, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise EncodeError(f"{name}={value!r} is outside {low}..{high}")
    return int(value)


def _ascii(text: str, budget: int) -> bytes:
    # ASCII is one byte per character, so a plain slice never cuts a character.
    return text.encode("ascii", errors="replace")[:budget]


def _gbk(text: str, budget: int) -> bytes:
    data = text.encode("gbk", errors="replace")
    if len(data) <= budget:
        return data
    # Too long: keep whole characters only (a GBK character is 1 or 2 bytes).
    out = bytearray()
    for char in text:
        encoded = char.encode("gbk", errors="replace")
        if len(out) + len(encoded) > budget:
            break
        out += encoded
    return bytes(out)


def encode_payload(frame: Frame) -> bytes:
    """The PAYLOAD bytes of ``frame`` (at most MAX_PAYLOAD)."""
    match frame:
        case Poll(ack=ack):
            return bytes((_check("ack", ack, 0, 255),))
        case ShowClerk(stars=stars, clerk_id=clerk_id, name=name):
            ident = _ascii(clerk_id, MAX_PAYLOAD - 2)
            head = bytes((_check("stars", stars, 0, 5), len(ident)))
            return head + ident + _gbk(name, MAX_PAYLOAD - len(head) - len(ident))
        case ShowState(state=state, waiting=waiting, ticket=ticket):
            if state not in WindowState._value2member_map_:
                raise EncodeError(f"state={state!r} is not a window state")
            head = struct.pack("<BH", state, _check("waiting", waiting, 0, 0xFFFF))
            return head + _ascii(ticket, MAX_PAYLOAD - len(head))
        case RateRequest(case=case, timeout_s=timeout_s, ticket=ticket):
            head = struct.pack("<IB", _check("case", case, 0, 0xFFFFFFFF), _check("timeout_s", timeout_s, 0, 255))
            return head + _ascii(ticket, MAX_PAYLOAD - len(head))
        case RateCancel(case=case):
            return struct.pack("<I", _check("case", case, 0, 0xFFFFFFFF))
        case SetTime(epoch=epoch):
            return struct.pack("<I", _check("epoch", epoch, 0, 0xFFFFFFFF))
        case ShowParked():
            return _parked_payload(frame)
        case Status(flags=flags, fw_major=major, fw_minor=minor, pending=pending):
            return bytes((_check("flags", int(flags), 0, 255), _check("fw_major", major, 0, 255),
                          _check("fw_minor", minor, 0, 255), _check("pending", pending, 0, 255)))
        case Key(evt=evt, key=key, arg=arg):
            if key not in KeyCode._value2member_map_:
                raise EncodeError(f"key={key!r} is not a key code")
            return bytes((_check("evt", evt, 1, 255), key, _check("arg", arg, 0, 255)))
        case Rating(evt=evt, case=case, level=level, reasons=reasons):
            return struct.pack("<BIBH", _check("evt", evt, 1, 255), _check("case", case, 0, 0xFFFFFFFF),
                               _check("level", level, 1, 5), _check("reasons", reasons, 0, 0xFFFF))
        case RateTimeout(evt=evt, case=case):
            return struct.pack("<BI", _check("evt", evt, 1, 255), _check("case", case, 0, 0xFFFFFFFF))
        case Nak(code=code):
            if code not in NakCode._value2member_map_:
                raise EncodeError(f"code={code!r} is not a NAK code")
            return bytes((code,))
    raise EncodeError(f"not a QPad frame: {frame!r}")


def _parked_payload(frame: ShowParked) -> bytes:
    # COUNT, then LEN + NUMBER per case while they fit; COUNT still counts the ones left out.
    if not len(frame.tickets) <= _check("count", frame.count, 0, 255):
        raise EncodeError(f"count={frame.count} is less than the {len(frame.tickets)} tickets given")
    out = bytearray((frame.count,))
    for ticket in frame.tickets:
        number = _ascii(ticket, 255)
        if len(out) + 1 + len(number) > MAX_PAYLOAD:
            break
        out.append(len(number))
        out += number
    return bytes(out)


def encode(frame: Frame) -> bytes:
    """The complete wire frame: SOF1 SOF2 ADDR CMD SEQ LEN PAYLOAD CRC."""
    payload = encode_payload(frame)
    body = bytes((_check("addr", frame.addr, 0, 255), frame.CMD, _check("seq", frame.seq, 0, 255), len(payload)))
    body += payload
    return SOF + body + crc16_modbus(body).to_bytes(2, "little")


# ---- parsing ----------------------------------------------------------------------------------


def _need(payload: bytes, exact: int | None = None, at_least: int | None = None) -> None:
    if exact is not None and len(payload) != exact:
        raise PayloadError(f"payload is {len(payload)} bytes, expected {exact}")
    if at_least is not None and len(payload) < at_least:
        raise PayloadError(f"payload is {len(payload)} bytes, expected at least {at_least}")


def _enum(enum_type: type, value: int):
    try:
        return enum_type(value)
    except ValueError:
        raise PayloadError(f"{value} is not a valid {enum_type.__name__}") from None


def _evt(value: int) -> int:
    if value == 0:
        raise PayloadError("EVT 0 is reserved (EVT counts 1..255)")
    return value


def parse_payload(cmd: int, addr: int, seq: int, payload: bytes) -> Frame:
    """Build the frame for a CRC-checked CMD/PAYLOAD; raises PayloadError when it does not parse.

    Text is decoded with errors="replace": a pad shows what it can rather than losing the frame.
    """
    meta = {"addr": addr, "seq": seq}
    if cmd == Poll.CMD:
        _need(payload, exact=1)
        return Poll(payload[0], **meta)
    if cmd == ShowClerk.CMD:
        _need(payload, at_least=2)
        stars, id_len = payload[0], payload[1]
        if stars > 5:
            raise PayloadError(f"STARS {stars} > 5")
        if 2 + id_len > len(payload):
            raise PayloadError(f"IDLEN {id_len} runs past the payload")
        clerk_id = payload[2:2 + id_len].decode("ascii", errors="replace")
        name = payload[2 + id_len:].decode("gbk", errors="replace")
        return ShowClerk(stars, clerk_id, name, **meta)
    if cmd == ShowState.CMD:
        _need(payload, at_least=3)
        state, waiting = struct.unpack_from("<BH", payload)
        return ShowState(_enum(WindowState, state), waiting, payload[3:].decode("ascii", errors="replace"), **meta)
    if cmd == RateRequest.CMD:
        _need(payload, at_least=5)
        case, timeout_s = struct.unpack_from("<IB", payload)
        return RateRequest(case, timeout_s, payload[5:].decode("ascii", errors="replace"), **meta)
    if cmd == RateCancel.CMD:
        _need(payload, exact=4)
        return RateCancel(struct.unpack("<I", payload)[0], **meta)
    if cmd == SetTime.CMD:
        _need(payload, exact=4)
        return SetTime(struct.unpack("<I", payload)[0], **meta)
    if cmd == ShowParked.CMD:
        return _parse_parked(payload, meta)
    if cmd == Status.CMD:
        _need(payload, exact=4)
        return Status(StatusFlags(payload[0]), payload[1], payload[2], payload[3], **meta)
    if cmd == Key.CMD:
        _need(payload, exact=3)
        return Key(_evt(payload[0]), _enum(KeyCode, payload[1]), payload[2], **meta)
    if cmd == Rating.CMD:
        _need(payload, exact=8)
        evt, case, level, reasons = struct.unpack("<BIBH", payload)
        return Rating(_evt(evt), case, _enum(RatingLevel, level), reasons, **meta)
    if cmd == RateTimeout.CMD:
        _need(payload, exact=5)
        evt, case = struct.unpack("<BI", payload)
        return RateTimeout(_evt(evt), case, **meta)
    if cmd == Nak.CMD:
        _need(payload, exact=1)
        return Nak(_enum(NakCode, payload[0]), **meta)
    raise PayloadError(f"unknown CMD 0x{cmd:02X}")


def _parse_parked(payload: bytes, meta: dict) -> ShowParked:
    _need(payload, at_least=1)
    count, tickets, at = payload[0], [], 1
    while at < len(payload):
        length = payload[at]
        if at + 1 + length > len(payload):
            raise PayloadError(f"ticket LEN {length} runs past the payload")
        tickets.append(payload[at + 1:at + 1 + length].decode("ascii", errors="replace"))
        at += 1 + length
    if len(tickets) > count:
        raise PayloadError(f"{len(tickets)} tickets but COUNT {count}")
    return ShowParked(tuple(tickets), count, **meta)
