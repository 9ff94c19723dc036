"""The hall's link to the city's central service: ships the committed journal, in order, in batches,
from a durable cursor (`[central] url`, `token_file`). The central service itself is `central/`."""

from queued.central_link.shipper import CentralShipper

__all__ = ["CentralShipper"]
