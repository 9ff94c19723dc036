"""firmware_bridge: the QPad v1 serial protocol (serial-protocol.md) for the queued daemon.

Sans-IO pieces (``frames``, ``codec``, ``link``, ``emulator.PadState``) plus asyncio drivers
(``poller.BusPoller`` for the host, ``emulator.PadBusEmulator`` for emulated pads). This package does
not import ``queued``; the daemon imports it.
"""

from .codec import Direction, FrameDecoder
from .crc import crc16_modbus
from .emulator import PadBusEmulator, PadState
from .emulator_cli import run_pad_emulator
from .errors import EncodeError, FirmwareBridgeError, FrameError, PadStateError, PayloadError, PortError
from .frames import (
    Frame,
    HostCommand,
    Key,
    KeyCode,
    Nak,
    NakCode,
    PadEvent,
    PadReply,
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
from .poller import BusPoller
from .stats import BusStats

__all__ = [
    "BusPoller", "BusStats", "PadBusEmulator", "PadState", "run_pad_emulator",
    "Direction", "FrameDecoder", "crc16_modbus",
    "EncodeError", "FirmwareBridgeError", "FrameError", "PadStateError", "PayloadError", "PortError",
    "Frame", "HostCommand", "Key", "KeyCode", "Nak", "NakCode", "PadEvent", "PadReply", "Poll",
    "RateCancel", "RateRequest", "RateTimeout", "Rating", "RatingLevel", "SetTime", "ShowClerk",
    "ShowParked", "ShowState", "Status", "StatusFlags", "WindowState", "encode",
]
