"""The hall engine: pure state, commands in, typed events out.

Nothing in this package does I/O, awaits, or reads a clock: every command carries
the time it happens at. The journal, the web layer and the adapters live around it.
"""

from queued.core.commands import *  # noqa: F403
from queued.core.engine import Engine  # noqa: F401
from queued.core.errors import CoreError  # noqa: F401
from queued.core.events import *  # noqa: F403
from queued.core.hall import Business, Clerk, HallConfig, Window  # noqa: F401
