"""Uploaded audio for /v1: a multipart form read within limits, decoded by PyAV.

The file part is spooled to memory, past 1 MiB to an anonymous temporary file
(no name on disk, unlinked from the start), and closed when the request ends,
cancelled or not: nothing is left behind. The body may not exceed `max_bytes`
(413, also mid-stream when no Content-Length was given) nor take longer than
`read_timeout` seconds to arrive (408); decoding stops past `max_seconds` of
audio (413), so a small file that expands to hours is refused early. Anything
PyAV decodes is accepted; anything else is a 400 that says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import BinaryIO

import av
import numpy as np
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from pipeline.audio.convert import RATE, Resampler
from pipeline.audio.file import frame_to_mono

from .openai_formats import ApiError

__all__ = ["decode_audio", "read_form"]


async def read_form(request: Request, *, max_bytes: int, read_timeout: float) -> FormData:
    """The request's multipart form; the caller closes it (`await form.close()`)."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        raise ApiError(
            400, "send the audio as multipart/form-data with a `file` field", param="file"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_big(max_bytes)
    parser = MultiPartParser(
        request.headers, _limited(request, max_bytes), max_files=1, max_fields=32
    )
    try:
        async with asyncio.timeout(read_timeout):
            return await parser.parse()
    except TimeoutError:
        raise ApiError(408, f"the upload took longer than {read_timeout:g} s") from None
    except MultiPartException as exc:
        raise ApiError(400, f"bad multipart form: {exc.message}") from None
    except ClientDisconnect:
        raise ApiError(400, "the client went away during the upload") from None


async def _limited(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > max_bytes:
            raise _too_big(max_bytes)
        yield chunk


def _too_big(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        f"the upload is larger than this server's limit of {max_bytes / 2**20:g} MiB",
        code="file_too_large",
        param="file",
    )


def upload_file(form: FormData) -> UploadFile:
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise ApiError(400, "the form has no `file` part", param="file", code="missing_file")
    return file


def decode_audio(file: BinaryIO, name: str, max_seconds: float) -> np.ndarray:
    """The first audio stream as 16 kHz mono float32 (run it in a worker thread)."""
    file.seek(0)
    try:
        container = av.open(file, mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise _undecodable(name, exc) from None
    with container:
        if not container.streams.audio:
            raise ApiError(400, f"{name} has no audio stream", param="file", code="invalid_file")
        out: list[np.ndarray] = []
        total, limit = 0, int(max_seconds * RATE)
        resampler: Resampler | None = None
        try:
            for frame in container.decode(container.streams.audio[0]):
                if resampler is None or resampler.rate != frame.sample_rate:
                    if resampler is not None:
                        out.append(resampler.flush())
                    resampler = Resampler(frame.sample_rate)
                out.append(resampler.push(frame_to_mono(frame)))
                total += len(out[-1])
                if total > limit:
                    raise ApiError(
                        413,
                        f"the audio is longer than this server's limit of {max_seconds:g} s",
                        param="file",
                        code="audio_too_long",
                    )
        except (av.FFmpegError, ValueError) as exc:
            raise _undecodable(name, exc) from None
        if resampler is not None:
            out.append(resampler.flush())
    audio = np.concatenate(out) if out else np.zeros(0, np.float32)
    if not len(audio):
        raise ApiError(400, f"{name} holds no audio", param="file", code="invalid_file")
    return audio


def _undecodable(name: str, exc: Exception) -> ApiError:
    return ApiError(
        400,
        f"could not decode {name} as audio ({type(exc).__name__}): send a format FFmpeg "
        "reads (wav, flac, mp3, ogg, opus, m4a, webm, mp4, ...)",
        param="file",
        code="invalid_file",
    )
