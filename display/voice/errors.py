"""The voice package's errors: one hierarchy under the display package's."""

from display.errors import DisplayError


class VoiceError(DisplayError):
    """Speech cannot be set up or rendered (a clips folder that does not fit, no engine)."""


class RenderError(VoiceError):
    """One phrase could not be rendered (the engine failed or a clip is missing)."""
