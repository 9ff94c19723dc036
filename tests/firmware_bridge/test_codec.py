"""Codec tests from the tables of serial-protocol.md; expected bytes were computed by hand with a
bitwise CRC (``reference_crc`` below), independent of the table-driven one under test."""

from __future__ import annotations

import pytest

from firmware_bridge.codec import Direction, FrameDecoder
from firmware_bridge.crc import crc16_modbus
from firmware_bridge.errors import EncodeError
from firmware_bridge.frames import (
    Key,
    KeyCode,
    Nak,
    NakCode,
    Poll,
    RateCancel,
    RateRequest,
    RateTimeout,
    Rating,
    RatingLevel,
    SetTime,
    ShowClerk,
    ShowParked,
    ShowState,
    Status,
    StatusFlags,
    WindowState,
    encode,
)


def reference_crc(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


HAND_COMPUTED = [
    (Poll(7, addr=1, seq=0x10), "a5 5a 01 01 10 01 07 59 ab"),
    (ShowClerk(4, "1001", "张三", addr=2, seq=0x11), "a5 5a 02 02 11 0a 04 04 31 30 30 31 d5 c5 c8 fd f5 ef"),
    (ShowState(WindowState.SERVING, 12, "A001", addr=3, seq=0x12), "a5 5a 03 03 12 07 02 0c 00 41 30 30 31 8e 02"),
    (RateRequest(123456, 30, "A001", addr=4, seq=0x13), "a5 5a 04 04 13 09 40 e2 01 00 1e 41 30 30 31 b0 7c"),
    (RateCancel(123456, addr=5, seq=0x14), "a5 5a 05 05 14 04 40 e2 01 00 93 86"),
    (SetTime(1_800_000_000, addr=6, seq=0x15), "a5 5a 06 06 15 04 00 d2 49 6b 83 62"),
    (Status(StatusFlags.RATING_PROMPT_OPEN, 1, 2, 3, addr=1, seq=0x10), "a5 5a 01 80 10 04 01 01 02 03 e2 02"),
    (Key(5, KeyCode.TRANSFER, 2, addr=2, seq=0x11), "a5 5a 02 81 11 03 05 07 02 49 66"),
    (Rating(6, 123456, RatingLevel.DISSATISFIED, 0b101, addr=3, seq=0x12),
     "a5 5a 03 82 12 08 06 40 e2 01 00 02 05 00 4c df"),
    (RateTimeout(255, 123456, addr=4, seq=0x13), "a5 5a 04 83 13 05 ff 40 e2 01 00 f2 a3"),
    (Nak(NakCode.BUSY, addr=5, seq=0x14), "a5 5a 05 8f 14 01 03 c3 41"),
    # Extension 0x07 SHOW_PARKED (docs/pads.md): COUNT, then LEN + NUMBER per parked case.
    (ShowParked(("A012", "B003"), addr=4, seq=0x09), "a5 5a 04 07 09 0b 02 04 41 30 31 32 04 42 30 30 33 5a 30"),
    (ShowParked(addr=4, seq=0x09), "a5 5a 04 07 09 01 00 05 26"),
]


def test_crc_check_value():
    assert crc16_modbus(b"123456789") == 0x4B37
    assert reference_crc(b"123456789") == 0x4B37


def test_crc_table_matches_bitwise_reference():
    data = bytes(range(256)) * 3
    for end in (0, 1, 2, 7, 100, len(data)):
        assert crc16_modbus(data[:end]) == reference_crc(data[:end])
    assert crc16_modbus(data[100:], crc16_modbus(data[:100])) == crc16_modbus(data)


@pytest.mark.parametrize(("frame", "wire"), HAND_COMPUTED, ids=lambda v: type(v).__name__)
def test_encode_matches_hand_computed_frame(frame, wire):
    assert encode(frame) == bytes.fromhex(wire)


@pytest.mark.parametrize(("frame", "wire"), HAND_COMPUTED, ids=lambda v: type(v).__name__)
def test_decode_hand_computed_frame(frame, wire):
    assert FrameDecoder().feed(bytes.fromhex(wire)) == [frame]


def test_spec_sizes_poll_9_status_12():
    assert len(encode(Poll(0, addr=1))) == 9
    assert len(encode(Status(addr=1))) == 12


def test_direction_filter_skips_other_side_whole():
    host = FrameDecoder(Direction.PAD_TO_HOST)
    pad = FrameDecoder(Direction.HOST_TO_PAD)
    data = encode(Poll(0, addr=1, seq=1)) + encode(Status(addr=1, seq=1))
    assert host.feed(data) == [Status(addr=1, seq=1)]
    assert pad.feed(data) == [Poll(0, addr=1, seq=1)]
    assert host.ignored == pad.ignored == 1
    assert host.bad_total == pad.bad_total == 0


def test_byte_by_byte_feed_waits_for_truncated_frame():
    decoder = FrameDecoder()
    wire = encode(ShowState(WindowState.CALLING, 3, "B012", addr=9, seq=200))
    for byte in wire[:-1]:
        assert decoder.feed(bytes((byte,))) == []
    assert decoder.feed(wire[-1:]) == [ShowState(WindowState.CALLING, 3, "B012", addr=9, seq=200)]


def test_len_over_200_dropped_and_resynced():
    decoder = FrameDecoder()
    bad = bytes.fromhex("a5 5a 01 81 00 c9") + b"\x00" * 10  # LEN 201
    good = encode(Key(1, KeyCode.CALL_NEXT, addr=1, seq=1))
    assert decoder.feed(bad + good) == [Key(1, KeyCode.CALL_NEXT, addr=1, seq=1)]
    assert decoder.bad["bad_len"] == 1


def test_bad_crc_dropped_then_resync_finds_next_frame():
    decoder = FrameDecoder()
    corrupt = bytearray(encode(Key(1, KeyCode.SKIP, addr=1, seq=1)))
    corrupt[-1] ^= 0xFF
    good = encode(Key(2, KeyCode.PAUSE, addr=1, seq=2))
    assert decoder.feed(bytes(corrupt) + good) == [Key(2, KeyCode.PAUSE, addr=1, seq=2)]
    assert decoder.bad["bad_crc"] == 1
    assert decoder.good == 1


def test_resync_finds_frame_hidden_inside_a_dropped_one():
    # A false SOF whose LEN swallows a real frame: after the CRC fails, scanning resumes right
    # after the false SOF1, so the real frame inside is still found.
    decoder = FrameDecoder()
    good = encode(Status(addr=3, seq=4))
    wire = bytes.fromhex("a5 5a 03 80 04") + bytes((len(good) + 1,)) + good + b"\x00\x00\x00"
    assert decoder.feed(wire) == [Status(addr=3, seq=4)]
    assert decoder.bad["bad_crc"] == 1


def test_unknown_cmd_dropped():
    body = bytes((1, 0x42, 0, 1, 0))
    unknown = b"\xa5\x5a" + body + reference_crc(body).to_bytes(2, "little")
    rejected = []
    decoder = FrameDecoder(on_reject=lambda *args: rejected.append(args))
    assert decoder.feed(unknown + encode(Poll(0, addr=1))) == [Poll(0, addr=1)]
    assert decoder.bad["unknown_cmd"] == 1
    assert rejected == [(1, 0x42, 0, "unknown_cmd")]


@pytest.mark.parametrize(
    ("cmd", "payload"),
    [
        (0x01, b""),  # POLL without ACK
        (0x02, b"\x06\x00"),  # STARS 6
        (0x02, b"\x01\x09ab"),  # IDLEN past the end
        (0x03, b"\x09\x00\x00"),  # STATE 9
        (0x81, b"\x00\x01\x00"),  # EVT 0
        (0x81, b"\x01\x08\x00"),  # KEY 8
        (0x82, b"\x01\x00\x00\x00\x00\x06\x00\x00"),  # LEVEL 6
        (0x8F, b"\x09"),  # NAK code 9
        (0x07, b""),  # SHOW_PARKED without COUNT
        (0x07, b"\x01\x05AB"),  # a ticket LEN past the end
        (0x07, b"\x01\x01A\x01B"),  # more numbers than COUNT
    ],
)
def test_payload_that_does_not_parse_is_dropped(cmd, payload):
    body = bytes((1, cmd, 0, len(payload))) + payload
    wire = b"\xa5\x5a" + body + reference_crc(body).to_bytes(2, "little")
    decoder = FrameDecoder()
    assert decoder.feed(wire) == []
    assert decoder.bad["bad_payload"] == 1


def test_garbage_is_counted_as_discarded():
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00\x01\x02\xa5") == []
    assert decoder.discarded_bytes == 3  # the trailing 0xA5 may start a frame
    assert decoder.feed(b"\x00") == []
    assert decoder.discarded_bytes == 5


def test_abandon_partial_rescans_after_false_sof():
    decoder = FrameDecoder()
    good = encode(Status(addr=1, seq=1))
    assert decoder.feed(bytes.fromhex("a5 5a 01 80 01 c8") + good) == []  # LEN 200 swallows it
    assert decoder.abandon_partial() == [Status(addr=1, seq=1)]
    assert decoder.bad["truncated"] == 1


def test_text_is_gbk_truncated_on_a_character_boundary():
    frame = ShowClerk(5, "1001", "张" * 150, addr=1)
    wire = encode(frame)
    assert wire[5] == 200  # LEN
    decoded = FrameDecoder().feed(wire)[0]
    assert decoded.name == "张" * 97  # 200 - 2 - 4 = 194 bytes = 97 characters


def test_text_gbk_lacks_becomes_question_mark_and_long_ids_are_cut():
    wire = encode(ShowClerk(3, "x" * 300, "😀王", addr=1))
    assert wire[5] == 200
    decoded = FrameDecoder().feed(wire)[0]
    assert decoded.clerk_id == "x" * 198 and decoded.name == ""
    assert FrameDecoder().feed(encode(ShowClerk(3, "7", "😀王", addr=1)))[0].name == "?王"
    assert encode(ShowState(WindowState.IDLE, 0, "A" * 500, addr=1))[5] == 200


@pytest.mark.parametrize(
    "frame",
    [Poll(256), Key(0, KeyCode.CALL_NEXT), ShowClerk(6, "", ""), ShowState(7, 0), Rating(1, 1, 6),
     RateCancel(-1), Poll(0, addr=256), ShowState(WindowState.IDLE, 70000)],
)
def test_out_of_range_fields_raise_encode_error(frame):
    with pytest.raises(EncodeError):
        encode(frame)


def test_key_topic_names_are_stable():
    assert [key.topic_name for key in KeyCode] == [
        "call_next", "recall", "skip", "pause", "resume", "finish", "transfer"]
    assert KeyCode.from_topic_name("transfer") is KeyCode.TRANSFER
    assert [int(state) for state in WindowState] == [0, 1, 2, 3, 4]


def test_show_parked_keeps_the_numbers_that_fit_and_counts_them_all():
    many = tuple(f"A{i:03d}" for i in range(60))
    wire = encode(ShowParked(many, 60, addr=4))
    assert len(wire) <= 6 + 200 + 2
    [frame] = FrameDecoder().feed(wire)
    assert frame.count == 60 and frame.tickets == many[:39]  # 1 + 39 × (1 + 4) = 196 bytes
    assert ShowParked(["A1"]) == ShowParked(("A1",), 1)  # COUNT defaults to the numbers given
    with pytest.raises(EncodeError):
        encode(ShowParked(("A1", "A2"), 1))
    with pytest.raises(EncodeError):
        encode(ShowParked((), 256))
