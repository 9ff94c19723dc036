"""The one error hierarchy of firmware_bridge.

Callers (the daemon) catch ``FirmwareBridgeError`` to handle anything this package raises on purpose.
The decoder never raises on wire input: bad frames are dropped and counted instead.
"""

from __future__ import annotations


class FirmwareBridgeError(Exception):
    """Base class of every error raised on purpose by firmware_bridge."""


class FrameError(FirmwareBridgeError):
    """A frame cannot be encoded or decoded."""


class EncodeError(FrameError):
    """A frame field does not fit its wire field (e.g. ADDR 300, a u16 of 70000)."""


class PayloadError(FrameError):
    """A payload does not parse for its CMD. Raised by the parsers; the decoder catches it and counts."""


class PadStateError(FirmwareBridgeError):
    """An emulated pad cannot do what was asked right now (no rating prompt open, event queue full)."""


class PortError(FirmwareBridgeError):
    """A serial port could not be opened or was lost."""
