"""Screens: MQTT messages for LED window strips, the summary board and voice announcers
(`../shared/spec/mqtt.md`), the /screen page and led-sim (the embedded broker is `queued.broker`).

- `display.messages`: pure builders of the spec's payloads from the engine's state and events.
- `display.outbox`: the coalescing queue between the runtime and the broker link.
- `display.publisher`: the one MQTT client (reconnects, will, republish on connect, screen heartbeats).
- `display.service`: the adapter that wires these into the daemon (plus /screen and /api/v1/screens).
- `display.retained_watch`: notices another client overwriting the daemon's retained screens.
- `display.led_sim`: `queued led-sim`, a terminal stand-in for the LED controllers.
"""
