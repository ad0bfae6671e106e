"""Errors as the user reads them in the app: a title, the message, and what to do."""

from __future__ import annotations

from pipeline.errors import AudioInputError, ConfigError, ModelMissingError, RttError
from pipeline.events import Error

__all__ = ["explain", "explain_event"]

_AUDIO_HINT = (
    "Press d to pick another microphone (`rtt devices` lists them), or read a file with --input FILE. "
    "On Debian/Ubuntu, PortAudio comes with: apt-get install libportaudio2"
)
_SERVER_HINT = (
    "Check the URL (ws://HOST:PORT/ws), that `rtt serve` runs there, the room name and --token."
)
_MODEL_HINT = "Run the command above in another terminal, then start rtt live again (q quits)."


def explain(error: BaseException) -> tuple[str, str, str]:
    """(title, message, hint) for an exception raised while starting or running a session."""
    if isinstance(error, ModelMissingError):
        return "A model is missing from the cache", str(error), _MODEL_HINT
    if isinstance(error, AudioInputError):
        return "No audio input", str(error), _AUDIO_HINT
    if getattr(error, "code", None) == "server_unreachable":
        return "Cannot reach the server", str(error), _SERVER_HINT
    if isinstance(error, ConfigError):
        return (
            "Bad setting",
            str(error),
            "Check the options (rtt live --help) or the --config file.",
        )
    if isinstance(error, RttError):
        return "Error", str(error), ""
    return (
        "Internal error",
        f"{type(error).__name__}: {error}",
        "Please report this with the command you ran.",
    )


def explain_event(event: Error) -> tuple[str, str, str]:
    """(title, message, hint) for an error event that came out of the stream."""
    if event.code == "bad_audio":
        return "The audio input failed", event.message, _AUDIO_HINT
    if event.code == "model_missing":
        return "A model is missing from the cache", event.message, _MODEL_HINT
    return (
        f"The stream reported an error ({event.code})",
        event.message,
        "What was said before it is kept; save it with s.",
    )
