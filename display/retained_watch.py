"""The daemon owns its screens' retained state: this notices when another client overwrote it.

A hall's own broker without ACLs (or a misconfigured gateway) lets anybody retain "暂停服务" on a
working window's `led` topic, and every screen that connects shows it from then on. So the
daemon's link also subscribes to its own retained topics (`status`, `window/+/led`,
`window/+/led/gbk`, `board`) and compares what it hears with what it said:

- over MQTT 5 the subscription is No Local: its own publishes never come back (`echoes` False);
- over 3.1.1 they do, in the order it sent them (the broker keeps a client's order): one still
  awaited is ours;
- messages flagged retained are the snapshot the broker sends when the subscription is made, from
  before the republish that follows every connect, which rewrites them anyway: not judged;
- a topic the daemon has not published on since this connection began is not judged either;
- anything else is somebody else's message: an overwrite, which the display service puts right.

Pure bookkeeping (no I/O): the link feeds `sent` and `heard`.
"""

from __future__ import annotations

from collections import Counter, deque

PENDING_MAX = 64  # own messages awaited per topic; more in flight than this is a broker far behind
KINDS = ("led", "led_gbk", "board", "status")


class RetainedWatch:
    def __init__(self, base: str):
        self.base = base
        self._prefix = base + "/"
        self.filters = (f"{base}/status", f"{base}/board", f"{base}/window/+/led", f"{base}/window/+/led/gbk")
        self.current: dict[str, bytes] = {}  # topic → what the daemon last published there
        self.pending: dict[str, deque[bytes]] = {}  # topic → own publishes not heard back yet
        self.overwrites: Counter[str] = Counter()  # by kind
        self.last_topic: str | None = None
        self.echoes = True  # the broker sends our own publishes back (MQTT 3.1.1)
        self._kinds: dict[str, str | None] = {}  # topic → kind: a hall has a few hundred topics

    def kind(self, topic: str) -> str | None:
        if not topic.startswith(self._prefix):
            return None
        rest = topic[len(self._prefix):]
        if rest in ("status", "board"):
            return rest
        parts = rest.split("/")
        if len(parts) in (3, 4) and parts[0] == "window" and parts[2] == "led":
            if len(parts) == 3:
                return "led"
            return "led_gbk" if parts[3] == "gbk" else None
        return None

    def reset(self, echoes: bool = True) -> None:
        """A new connection: nothing said on it yet. `echoes`: whether our publishes come back."""
        self.current.clear()
        self.pending.clear()
        self.echoes = echoes

    def sent(self, topic: str, payload: bytes) -> None:
        kind = self._kinds.get(topic, "")
        if kind == "":
            kind = self.kind(topic)
            if len(self._kinds) < 100_000:
                self._kinds[topic] = kind
        if kind is None:
            return
        self.current[topic] = payload
        if not self.echoes:
            return
        q = self.pending.get(topic)
        if q is None:
            q = self.pending[topic] = deque(maxlen=PENDING_MAX)
        q.append(payload)

    def heard(self, topic: str, payload: bytes, retained: bool) -> str | None:
        """The kind of overwrite this message is, or None when it is ours (or not to be judged)."""
        if retained:
            return None
        q = self.pending.get(topic)
        if q:
            for i, mine in enumerate(q):
                if mine == payload:
                    for _ in range(i + 1):  # earlier ones were lost on the way: no longer awaited
                        q.popleft()
                    return None
        own = self.current.get(topic)
        if own is None or own == payload:
            return None
        kind = self.kind(topic)
        if kind is None:
            return None
        self.overwrites[kind] += 1
        self.last_topic = topic
        return kind

    @property
    def total(self) -> int:
        return sum(self.overwrites.values())
