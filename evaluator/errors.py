"""The evaluator's errors: CoreError subclasses, so the web layer maps their codes to HTTP
(queued/web/errors.py STATUS) and the runtime treats them like the engine's refusals."""

from queued.core.errors import CoreError


class EvaluatorError(CoreError):
    """A rating command was refused; nothing changed."""

    code = "invalid_request"  # 422


class InvalidRating(EvaluatorError):
    code = "invalid_request"  # 422: level out of 1..5, unknown reason bit, bad channel, long comment


class AlreadyRated(EvaluatorError):
    code = "already_rated"  # 409: 一次一评, whatever the channel


class NotServed(EvaluatorError):
    code = "not_served"  # 409: the ticket exists but was never finished at a window


class UnknownCase(EvaluatorError):
    code = "unknown_ticket"  # 404: no such ticket or case


class RatingClosed(EvaluatorError):
    code = "rating_closed"  # 409: served more than rating_window_days ago


class WrongWindow(EvaluatorError):
    code = "invalid_request"  # 422: a pad rated a case served at another window


class NotHolder(EvaluatorError):
    code = "not_holder"  # 403: neither the ticket's rating key nor the WeChat session of its openid
