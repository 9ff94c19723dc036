"""Ticket channels beyond the API: the kiosk (and its guide-desk mode), the thermal printer,
time-slot appointments (分时段预约), the end-of-day duties, and the WeChat mobile page.

Errors of this package derive from `ChannelError` (a CoreError with a snake_case code and the HTTP
status the web layer should use), so pure components raise them and only routes turn them into HTTP.
"""

from queued.core.errors import CoreError


class ChannelError(CoreError):
    """A channel refused a request; nothing changed."""

    code = "invalid_request"
    status = 422
