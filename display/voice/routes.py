"""GET /audio/calls/{id}.wav (http-api.md 1.1, public): the call's speech as `audio/wav`, 404 once
it has expired. A single byte range is honoured (206), as media elements ask for one."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from display.voice.errors import RenderError
from display.voice.service import Voice
from queued.web.errors import ApiError

_ID = re.compile(r"^[0-9a-f]{16}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def routes(voice: Voice) -> list[Route]:
    async def call_audio(request: Request) -> Response:
        call_id = request.path_params["call"]
        if not _ID.match(call_id):
            raise ApiError("not_found", "没有这段叫号语音（no such call audio）")
        try:
            data = await voice.wav(call_id)
        except RenderError as exc:
            raise ApiError("unavailable", f"叫号语音暂不可用（{exc}）") from None
        if data is None:
            raise ApiError("not_found", "这段叫号语音已过期（the call's audio has expired or never existed）")
        headers = {"Accept-Ranges": "bytes", "Cache-Control": f"public, max-age={int(voice.store.keep_s)}"}
        wanted = _RANGE.match(request.headers.get("range", "").strip())
        if wanted and (wanted.group(1) or wanted.group(2)):
            size = len(data)
            first, last = wanted.group(1), wanted.group(2)
            if first:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            else:  # the last N bytes
                start, end = max(0, size - int(last)), size - 1
            if start >= size or start > end:
                return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
            return Response(data[start:end + 1], status_code=206, media_type="audio/wav",
                            headers={**headers, "Content-Range": f"bytes {start}-{end}/{size}"})
        return Response(data, media_type="audio/wav", headers=headers)

    return [Route("/audio/calls/{call}.wav", call_audio, methods=["GET"])]
