"""The spoken call, rendered on the server (mqtt.md 1.1 `calls.audio`, http-api.md 1.1
`GET /audio/calls/{id}.wav`): every call names a WAV that any screen or announcer plays as it is,
whatever voices its own machine has (docs/voice.md).

- `display.voice.phrase`: what a call says, as clip units or as text for a speech engine (pure).
- `display.voice.clips`: the hall's recorded clips, concatenated with the standard library `wave`.
- `display.voice.espeak`: espeak-ng's Mandarin voice, when the hall has no clips.
- `display.voice.store`: rendered audio per phrase and the calls that name it, with their expiry.
- `display.voice.service`: the renderer off the event loop, its metrics and the HTTP route.
"""
