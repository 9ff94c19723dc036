"""An acknowledging stand-in for the central service's ingest, for the benchmarks' control runs.

    python bench/central_stub.py PORT

It takes `POST /api/v1/ingest` as the real service does (HTTP/1.1 keep-alive, a gzip JSON body)
and answers 200 with the batch's last seq, storing nothing; `GET /stats` gives the events and
batches it took. The hall does all its shipping work against it (the read, the body, gzip, the
request and its reply) while the other CPU stays nearly idle: on this two-CPU machine the real
central service and PostgreSQL load the CPU the latency client runs on, and load there alone
moves the hall's figures (bench/RESULTS.md, "call→LED ± [central], with two controls"). Not a
benchmark itself.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import sys

LAST_SEQ = re.compile(rb'\{"seq":(\d+),')
stats = {"events": 0, "batches": 0, "last_seq": 0}


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *fields = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (f.partition(":") for f in fields if f)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if line.startswith("POST /api/v1/ingest"):
                raw = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
                seqs = LAST_SEQ.findall(raw[-4096:]) or LAST_SEQ.findall(raw)  # events are in order
                count = raw.count(b'{"seq":')
                last = int(seqs[-1]) if seqs else stats["last_seq"]
                stats["events"] += count
                stats["batches"] += 1
                stats["last_seq"] = last
                answer = {"hall": "main", "last_seq": last, "stored": count, "duplicates": 0}
            else:
                answer = dict(stats)
            out = json.dumps(answer).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(out)).encode() + b"\r\n\r\n" + out)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
