"""Bookings never checked in become no-shows once their day is over.

The day is over when `hard_close` closed it out (DayClosed), else when the next day starts (the
day's roll-over just after midnight, or a timer of this module); a daemon that was down over
midnight settles the earlier days when it starts. (Nothing ends the day at `closes`: windows keep
serving, 延时服务.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from queued.channels.appointments import RecordNoShows
from queued.channels.appointments_slots import add_days
from queued.core import events as e

log = logging.getLogger("queued.channels.appointments")


class NoShowRecorder:
    def __init__(self, runtime):
        self.runtime = runtime
        self._timer: asyncio.TimerHandle | None = None
        runtime.subscribe(self.on_events)

    def on_events(self, events: Sequence[e.Event]) -> None:
        for ev in events:
            kind = type(ev)
            if kind is e.DayClosed:
                self.runtime.submit(RecordNoShows(ev.day))
            elif kind is e.DayStarted:
                self.runtime.submit(RecordNoShows(add_days(ev.day, -1)))

    async def start(self) -> None:
        today = self.runtime.calendar.day(self.runtime.clock())
        self.runtime.submit(RecordNoShows(add_days(today, -1)))
        self._arm()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        """Wake a few seconds after the hall's next midnight and settle the day that ended."""
        rt = self.runtime
        now = rt.clock()
        today = rt.calendar.day(now)
        tomorrow = add_days(today, 1)
        delay = rt.calendar.day_start(tomorrow) - now + 5

        def fire():
            rt.submit(RecordNoShows(today))
            self._arm()

        self._timer = asyncio.get_running_loop().call_later(max(5.0, delay), fire)
