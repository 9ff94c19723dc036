"""What the supervisor and Prometheus see of the pads: GET /api/v1/pads and the queued_pad_* metrics.

Read at request/scrape time from the pollers' own counters (firmware_bridge.BusStats, the decoder's
frame counts) and the adapter's; nothing here is on the bus's path.
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from firmware_bridge.frames import ShowParked
from queued.web.inputs import require


def bus_rows(adapter) -> list[dict]:
    rows = []
    for port, poller in adapter.pollers.items():
        st = poller.stats
        rows.append({
            "port": port, "remote": False, "running": poller.is_running, "pads": len(poller.links),
            "pads_online": poller.pads_online, "cycle_s": st.last_cycle_s, "cycles": st.cycles,
            "frames_good": poller.frames_good, "frames_bad": poller.frames_bad,
            "missed_replies": st.missed_replies, "duplicates": st.duplicate_events,
            "port_failures": st.port_failures, "commands_sent": st.commands_sent,
            "commands_dropped": st.commands_dropped, "commands_unknown": st.commands_unknown,
        })
    remote = adapter.remote
    if remote is not None:
        for port in sorted(set(remote.ports.values())):
            rows.append({
                "port": port, "remote": True, "running": remote.running, "connected": remote.connected,
                "pads": sum(1 for p in remote.ports.values() if p == port), "pads_online": remote.pads_online(port),
                "duplicates": remote.duplicates[port], "bad_messages": remote.bad_messages,
            })
    return rows


def pad_rows(adapter, windows: list[str] | None = None) -> list[dict]:
    out = []
    for w, p in adapter.bindings.items():
        if windows is not None and w not in windows:
            continue
        out.append({"window": w, "port": p.port, "address": p.address, "remote": p.port in adapter.remote_ports,
                    "online": adapter.is_online(w), "rating_prompt": adapter.showing.get(w),
                    "shows_parked": shows_parked(adapter, w)})
    return out


def shows_parked(adapter, window: str) -> bool | None:
    """False once the pad answered SHOW_PARKED with NAK 2 (firmware older than the extension) and has
    not restarted since; None when its bus is remote (the bridge keeps that)."""
    p = adapter.bindings[window]
    poller = adapter.pollers.get(p.port)
    link = poller.links.get(p.address) if poller is not None else None
    return None if link is None else link.knows(ShowParked())


def routes(adapter) -> list[Route]:
    async def list_pads(request: Request) -> JSONResponse:
        """Extension: GET /api/v1/pads — each window's pad, online or not, and each bus's figures."""
        p = await require(request, "read_hall")
        pads = pad_rows(adapter, [p.window] if p.role == "clerk" else None)
        body = {"pads": pads, "online": sum(1 for x in pads if x["online"]), "total": len(pads)}
        if p.role != "clerk":
            body["buses"] = bus_rows(adapter)
            body["events"] = dict(adapter.events)
            body["refused"] = {f"{t}:{code}": n for (t, code), n in adapter.refused.items()}
        return JSONResponse(body)

    return [Route("/api/v1/pads", list_pads, methods=["GET"])]


class PadCollector:
    """queued_pad_* families, computed when Prometheus scrapes."""

    def __init__(self, adapter):
        self.adapter = adapter

    def collect(self):
        a = self.adapter
        good = CounterMetricFamily("queued_pad_frames_good", "Good frames heard from pads", labels=["port"])
        bad = CounterMetricFamily("queued_pad_frames_bad", "Frames dropped (CRC, length, unknown CMD, payload)",
                                  labels=["port", "reason"])
        online = GaugeMetricFamily("queued_pads_online", "Pads answering, per bus", labels=["port"])
        pad_up = GaugeMetricFamily("queued_pad_online", "1 while the window's pad answers", labels=["window"])
        cycle = GaugeMetricFamily("queued_pad_poll_cycle_seconds", "Time of the last full polling round",
                                  labels=["port"])
        missed = CounterMetricFamily("queued_pad_missed_replies", "Polls and commands left unanswered",
                                     labels=["port"])
        dups = CounterMetricFamily("queued_pad_duplicate_events", "Resent pad events recognised and not counted",
                                   labels=["port"])
        events = CounterMetricFamily("queued_pad_events", "Pad events processed, by type", labels=["type"])
        keys = CounterMetricFamily("queued_pad_keys", "Clerk keys processed, by key", labels=["key"])
        refused = CounterMetricFamily("queued_pad_refused", "Pad events whose command was refused (invalid_state, "
                                      "already_rated, ...)", labels=["type", "reason"])
        for port, poller in a.pollers.items():
            good.add_metric([port], poller.frames_good)
            for reason, n in poller.frames_bad.items():
                bad.add_metric([port, str(reason)], n)
            online.add_metric([port], poller.pads_online)
            if poller.stats.last_cycle_s is not None:
                cycle.add_metric([port], poller.stats.last_cycle_s)
            missed.add_metric([port], poller.stats.missed_replies)
            dups.add_metric([port], poller.stats.duplicate_events)
        if a.remote is not None:
            connects = CounterMetricFamily("queued_pad_remote_connects", "Connections the remote pads' link made "
                                           "to the MQTT broker (more than one: it was dropped or pushed off)")
            connects.add_metric([], a.remote.connects)
            yield connects
            for port in sorted(set(a.remote.ports.values())):
                online.add_metric([port], a.remote.pads_online(port))
                dups.add_metric([port], a.remote.duplicates[port])
        for w in a.bindings:
            pad_up.add_metric([w], 1 if a.is_online(w) else 0)
        for kind in ("key", "rating", "rate_timeout"):
            events.add_metric([kind], a.events[kind])
        for name, n in sorted(a.keys.items()):
            keys.add_metric([name], n)
        for (kind, code), n in sorted(a.refused.items()):
            refused.add_metric([kind, code], n)
        yield from (good, bad, online, pad_up, cycle, missed, dups, events, keys, refused)
