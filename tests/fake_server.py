"""The HTTP plumbing of the local fakes of external services (WeChat, Aliyun SMS): a Starlette app
on a free port, served by uvicorn in its own thread so that it answers whatever loop the test runs.

A fake subclasses `FakeServer`, names itself (`what`, for the error when it does not start) and
lists its `routes()`; `start()` returns the fake, serving at `url`; `stop()` ends it.
"""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from tests.support import free_port


class FakeServer:
    what = "fake"  # "the fake <what> server did not start"

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def start(self):
        app = Starlette(routes=self.routes())
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="off", access_log=False, timeout_graceful_shutdown=1))
        name = "fake-" + self.what.lower().replace(" ", "-")
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the fake {self.what} server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None
