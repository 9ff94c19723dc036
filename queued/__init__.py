"""queued: queue, call and double-sided evaluator system for government service halls."""

__version__ = "0.1.0"
