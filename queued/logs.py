"""The daemon's log: one line per event, and the same error repeating logged once with a count.

A client repeating a request that fails produced a 3.7 KB traceback each time (0.9 MB/s of log).
`RepeatFilter`, on the log handler, lets the first record of a kind through whole (with its
traceback) and then, for as long as the same kind keeps coming within QUIET_S of the last one,
only counts it; every SUMMARY_S, at shutdown and when it falls quiet, one line says how often it
repeated. A record's kind is its logger, level, message template (not its arguments: a flood over
changing paths is one kind) and, with an exception, the exception's type and where it was raised.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import OrderedDict

QUIET_S = 60.0  # this long without a repeat and the next one is logged whole again
SUMMARY_S = 60.0  # at most one "repeated" line per kind this often
MAX_KINDS = 1000  # kinds remembered (oldest forgotten first)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _kind(record: logging.LogRecord) -> tuple:
    where = None
    if record.exc_info and record.exc_info[1] is not None:
        tb = record.exc_info[2]
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        frame = (tb.tb_frame.f_code.co_filename, tb.tb_lineno) if tb is not None else None
        where = (type(record.exc_info[1]).__name__, frame)
    return record.name, record.levelno, str(record.msg), where


class _Seen:
    __slots__ = ("last", "summarised", "count", "record", "text", "same")

    def __init__(self, now: float, record: logging.LogRecord):
        self.last = self.summarised = now
        self.count = 0  # repeats not yet reported
        self.record = record
        self.text = record.getMessage()
        self.same = True  # every repeat so far said exactly the same


class RepeatFilter(logging.Filter):
    def __init__(self, clock=time.monotonic):
        super().__init__()
        self.clock = clock
        self.seen: OrderedDict[tuple, _Seen] = OrderedDict()
        self.lock = threading.Lock()
        self.handler: logging.Handler | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "repeat_summary", False):
            return True
        if record.levelno < logging.WARNING:
            return True  # info lines are not floods of one error; they pass as they are
        now = self.clock()
        key = _kind(record)
        summary = None
        with self.lock:
            s = self.seen.get(key)
            if s is None or now - s.last > QUIET_S:
                if s is not None and s.count:
                    summary = self._summary(s, now)
                self.seen[key] = _Seen(now, record)
                self.seen.move_to_end(key)
                while len(self.seen) > MAX_KINDS:
                    self.seen.popitem(last=False)
                passed = True
            else:
                s.count += 1
                s.last = now
                s.same = s.same and record.getMessage() == s.text
                passed = False
                if now - s.summarised >= SUMMARY_S:
                    summary = self._summary(s, now)
        if summary is not None:
            self._emit(summary)
        return passed

    def _summary(self, s: _Seen, now: float) -> logging.LogRecord:
        r = s.record
        how = "repeated %d times" if s.same else "%d more like it (details differ)"
        line = logging.LogRecord(r.name, r.levelno, r.pathname, r.lineno,
                                 f"%s ({how} in the last %.0f s; the first is logged in full above)",
                                 (s.text, s.count, now - s.summarised), None)
        line.repeat_summary = True
        s.count = 0
        s.same = True
        s.summarised = now
        return line

    def _emit(self, record: logging.LogRecord) -> None:
        if self.handler is not None:
            self.handler.handle(record)

    def flush(self, force: bool = False) -> None:
        """Report the repeats counted so far: those due (every SUMMARY_S) or, with force, all."""
        now = self.clock()
        with self.lock:
            due = [self._summary(s, now) for s in self.seen.values()
                   if s.count and (force or now - s.summarised >= SUMMARY_S or now - s.last > QUIET_S)]
        for record in due:
            self._emit(record)


_filter: RepeatFilter | None = None


def setup(level: str = "info") -> RepeatFilter:
    """The daemon's logging: stderr, one format, the repeat filter on the handler."""
    global _filter
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    _filter = RepeatFilter()
    _filter.handler = handler
    handler.addFilter(_filter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    return _filter


def flush_repeats(force: bool = False) -> None:
    if _filter is not None:
        _filter.flush(force)
