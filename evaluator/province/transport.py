"""One HTTP request to a platform, bounded by `timeout_s`, and what its failure means.

A request that may have reached the platform (a timeout, a connection cut after the request was
written) is "maybe delivered" (D6): the retry sends the same key and payload and the platform
answers duplicate (D1). A refused connection never reached it. Messages name what happened, never
the request's content (it holds personal data, D12).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from queued.http11 import ConnectFailed, Http11Client, HttpError


@dataclass(slots=True)
class Outcome:
    outcome: str  # accepted | duplicate | rejected | failed
    http_status: int | None = None
    code: str = ""
    message: str = ""
    body: str = ""
    maybe: bool = False  # failed, but the platform may have stored it
    digest: str = ""


@dataclass(slots=True)
class Answer:
    status: int
    text: str  # decoded as UTF-8 whatever the header says (province.md §2.1)


class TransportFailed(Exception):
    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


def make_client() -> Http11Client:
    # Never a proxy or netrc from the environment: nothing but the configured URL decides where
    # hall data goes; redirects are not followed (a 3xx is an answer the profile judges).
    return Http11Client("queued-province/1")


async def post(client: Http11Client, url: str, timeout_s: float, *, content: bytes,
               headers: dict[str, str]) -> Answer:
    """POST and read the whole answer within `timeout_s`; TransportFailed otherwise."""
    try:
        async with asyncio.timeout(timeout_s):
            status, raw = await client.post(url, content, headers)
    except ConnectFailed as exc:
        raise TransportFailed(Outcome("failed", code="connect", message=f"无法连接省平台（{exc.strerror or 'OSError'}）")) from None
    except TimeoutError:
        if not client.written:  # still connecting: nothing was sent
            raise TransportFailed(Outcome("failed", code="connect", message="无法连接省平台（connect timeout）")) from None
        raise TransportFailed(Outcome("failed", code="timeout", maybe=True,
                                      message=f"省平台 {timeout_s:g} 秒内未应答，可能已收到（timeout）")) from None
    except (OSError, HttpError) as exc:  # reset, closed mid-answer, not an HTTP answer
        raise TransportFailed(Outcome("failed", code="transport", maybe=True,
                                      message=f"连接中断，可能已收到（{type(exc).__name__}）")) from None
    return Answer(status, raw.decode("utf-8", errors="replace"))
