"""``python -m firmware_bridge``: the pad emulator (same as ``queued pad-emu``)."""

import sys

from .emulator_cli import run_pad_emulator

sys.exit(run_pad_emulator())
