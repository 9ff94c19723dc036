"""The windows' evaluator pads (QPad v1) in the daemon: `PadAdapter` (queued.pads.service)."""

from queued.pads.service import PadAdapter

__all__ = ["PadAdapter"]
