"""The OpenAI-compatible API under /v1, on the server's shared engines.

- `POST /v1/audio/transcriptions`, `POST /v1/audio/translations` (multipart:
  `file`, `model`, `language`, `prompt`, `response_format`,
  `timestamp_granularities[]`, `temperature`, `stream`): a whole file takes the
  batch path (`pipeline/offline`), answered in OpenAI's shapes (openai_formats.py).
  Extension: `target_language` on translations (default `en`; `de,es` for several).
- `stream=true` on transcriptions: server-sent events, `transcript.text.delta` per
  committed stretch from the live pipeline (on the simulated clock: as fast as the
  machine goes), then `transcript.text.done`.
- `GET /v1/models`: `whisper-1` (the server's ASR model) and the installed models.

A browser's request from another origin than the server's own or an allowed one
is refused (403), as on the websocket: a web page cannot make a local server work.
Keys: `Authorization: Bearer` when the server has keys (401 otherwise), per-key
limits from quotas.py (429 with `Retry-After`). Live first: at most
`file_jobs` files are processed at once (default 1), `file_queue` more wait, the
rest get 429; and a file's Whisper batches and sentences queue on the shared
engines at `BACKGROUND` priority, so a live room's requests are served before
them and wait at most for the one batch in flight (pipeline/engine.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import numpy as np
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from pipeline.audio.convert import RATE
from pipeline.config import PipelineConfig
from pipeline.engine import BACKGROUND
from pipeline.errors import RttError
from pipeline.languages import LANGUAGES
from pipeline.models.cache import is_installed
from pipeline.models.registry import MODELS
from pipeline.offline import OfflineProcessor, build_processor

from .credentials import TokenStore
from .live_text import live_text
from .openai_formats import FORMATS, ApiError, render
from .uploads import decode_audio, read_form, upload_file

if TYPE_CHECKING:
    from .app import RttServer

__all__ = ["openai_routes"]

log = logging.getLogger("rtt.server")
DEFAULT_MODEL = "whisper-1"


def openai_routes(server: RttServer, check_origin) -> list[Route]:
    """The /v1 routes; `check_origin(scope)` answers a refused browser origin (asgi.py)."""
    api = OpenAIApi(server, check_origin)
    return [
        Route("/models", api.models, methods=["GET"]),
        Route("/models/{model:path}", api.model, methods=["GET"]),
        Route("/audio/transcriptions", api.transcriptions, methods=["POST"]),
        Route("/audio/translations", api.translations, methods=["POST"]),
    ]


@dataclasses.dataclass(frozen=True, slots=True)
class _Params:
    model: str
    fmt: str
    language: str | None
    targets: tuple[str, ...]
    words: bool
    stream: bool


class OpenAIApi:
    def __init__(self, server: RttServer, check_origin) -> None:
        self.server = server
        self._check_origin = check_origin
        self.limits = server.config.api
        self._processors: dict[str, OfflineProcessor] = {}
        self._jobs = asyncio.Semaphore(max(1, self.limits.file_jobs))
        self._waiting = 0

    # -- models ---------------------------------------------------------------------
    def _model_ids(self) -> list[str]:
        asr = self.server.config.pipeline.asr.model
        installed = [name for name in MODELS if is_installed(name)]
        return list(dict.fromkeys([DEFAULT_MODEL, asr, *installed]))

    async def models(self, request: Request) -> Response:
        return await self._answer(request, self._list_models)

    async def model(self, request: Request) -> Response:
        async def one(_: str) -> Response:
            name = request.path_params["model"]
            if name not in self._model_ids():
                raise _no_model(name)
            return JSONResponse(_model_object(name))

        return await self._answer(request, one)

    async def _list_models(self, _: str) -> Response:
        data = [_model_object(name) for name in self._model_ids()]
        return JSONResponse({"object": "list", "data": data})

    def _asr_config(self, model: str) -> PipelineConfig:
        base = self.server.config.pipeline
        if model in (DEFAULT_MODEL, base.asr.model):
            return base
        spec = MODELS.get(model)
        if spec is None or not is_installed(model):
            raise _no_model(model)
        if spec.kind != "asr":
            raise ApiError(
                400, f"{model} is a translation model, not a speech model", param="model"
            )
        return dataclasses.replace(base, asr=dataclasses.replace(base.asr, model=model))

    async def _processor(self, config: PipelineConfig) -> OfflineProcessor:
        name = config.asr.model
        if name not in self._processors:
            registry = self.server.registry
            self._processors[name] = await asyncio.to_thread(
                functools.partial(build_processor, config, registry, priority=BACKGROUND)
            )
        return self._processors[name]

    # -- audio ----------------------------------------------------------------------
    async def transcriptions(self, request: Request) -> Response:
        return await self._answer(request, lambda key: self._audio(request, key, "transcribe"))

    async def translations(self, request: Request) -> Response:
        return await self._answer(request, lambda key: self._audio(request, key, "translate"))

    async def _answer(self, request: Request, handler) -> Response:
        """Check the key, take a stream slot, run `handler(key)`; every refusal OpenAI-style."""
        quotas = self.server.quotas
        try:
            if self._check_origin(request.scope) is not None:  # a page elsewhere: no CORS here
                origin = request.headers.get("origin")
                raise ApiError(
                    403,
                    f"origin {origin} is not allowed (see --allow-origin)",
                    code="origin_not_allowed",
                )
            key = self._key(request)
            refusal = quotas.open_stream(key)
            if refusal is not None:
                raise _quota(refusal)
        except ApiError as exc:
            return _error_response(exc)
        handed_over = False
        try:
            response = await handler(key)
            if isinstance(response, StreamingResponse):
                handed_over = True  # the stream gives the slot back when it ends
            return response
        except ApiError as exc:
            return _error_response(exc)
        except RttError as exc:
            return _error_response(ApiError(500, str(exc), type="server_error"))
        except Exception as exc:  # a bug: this request fails, the server goes on
            log.exception("/v1 request failed")
            return _error_response(
                ApiError(500, f"internal error: {type(exc).__name__}", type="server_error")
            )
        finally:
            if not handed_over:
                quotas.close_stream(key)

    def _key(self, request: Request) -> str:
        tokens = self.server.tokens
        if not tokens:
            return ""  # a loopback server without keys: one shared allowance
        given = TokenStore.given("?" + request.url.query, request.headers)
        if not tokens.check(given):
            raise ApiError(
                401,
                "Incorrect API key provided: pass one of this server's keys as "
                "`Authorization: Bearer KEY`"
                if given
                else "Missing API key: pass `Authorization: Bearer KEY`",
                code="invalid_api_key",
            )
        return given

    async def _audio(self, request: Request, key: str, task: str) -> Response:
        limits = self.limits
        form = await read_form(
            request, max_bytes=int(limits.max_upload_mb * 2**20), read_timeout=limits.read_timeout
        )
        try:
            params = _params(form, task)
            config = self._asr_config(params.model)
            file = upload_file(form)
            name = file.filename or "the file"
            audio = await asyncio.to_thread(decode_audio, file.file, name, limits.max_seconds)
        finally:
            await form.close()  # the spooled upload is gone from here on
        refusal = self.server.quotas.charge_audio(key, len(audio) / RATE, time.monotonic())
        if refusal is not None:
            raise _quota(refusal)
        if params.stream:
            if task != "transcribe":
                raise ApiError(400, "stream=true is supported on transcriptions", param="stream")
            return self._stream(config, audio, params, key)
        processor = await self._processor(config)
        job = processor.process_audio(
            audio,
            stream=f"v1-{secrets.token_hex(4)}",
            language=params.language,
            targets=params.targets,
        )
        result = await self._file_job(job)
        rendered = render(
            result, task=task, fmt=params.fmt, targets=params.targets, words=params.words
        )
        if isinstance(rendered.body, dict):
            return JSONResponse(rendered.body)
        return PlainTextResponse(rendered.body, media_type=rendered.media_type)

    async def _file_job(self, work):
        """Run one file's work when a file-job slot is free (live rooms keep the rest)."""
        try:
            self._check_queue()
        except ApiError:
            work.close()
            raise
        async with self._slot():
            return await work

    def _check_queue(self) -> None:
        if self._waiting >= self.limits.file_queue:
            raise ApiError(
                429,
                "the server is busy with other files; retry later",
                code="busy",
                retry_after=10.0,
            )

    @contextlib.asynccontextmanager
    async def _slot(self):
        self._waiting += 1
        try:
            await self._jobs.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._jobs.release()

    # -- streaming ------------------------------------------------------------------
    def _stream(self, config: PipelineConfig, audio: np.ndarray, params: _Params, key: str):
        self._check_queue()

        async def events() -> AsyncIterator[str]:
            try:
                async with self._slot():
                    async for event in live_text(
                        config, audio, params.language, self.server.registry
                    ):
                        yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
            finally:
                self.server.quotas.close_stream(key)

        return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)


_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _params(form: FormData, task: str) -> _Params:
    def field(name: str, default: str = "") -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else default

    model = field("model") or DEFAULT_MODEL
    fmt = field("response_format", "json") or "json"
    if fmt not in FORMATS:
        raise ApiError(
            400,
            f"response_format must be one of {', '.join(FORMATS)}, not {fmt!r}",
            param="response_format",
        )
    language = field("language").lower() or None
    if language is not None and language not in LANGUAGES:
        raise ApiError(
            400,
            f"unsupported language {language!r}; supported: {', '.join(LANGUAGES)}",
            param="language",
            code="unsupported_language",
        )
    targets: tuple[str, ...] = ()
    if task == "translate":
        targets = tuple(
            dict.fromkeys(
                t.strip().lower()
                for t in (field("target_language") or "en").split(",")
                if t.strip()
            )
        )
        bad = [t for t in targets if t not in LANGUAGES]
        if bad or not targets:
            raise ApiError(
                400,
                f"unsupported target_language {','.join(bad)!r}; supported: {', '.join(LANGUAGES)}",
                param="target_language",
                code="unsupported_language",
            )
    granularities = {
        g
        for name in ("timestamp_granularities[]", "timestamp_granularities")
        for g in form.getlist(name)
        if isinstance(g, str)
    }
    stream = field("stream").lower() in ("true", "1")
    return _Params(model, fmt, language, targets, "word" in granularities, stream)


def _model_object(name: str) -> dict:
    return {"id": name, "object": "model", "created": 0, "owned_by": "rtt"}


def _no_model(name: str) -> ApiError:
    return ApiError(
        404,
        f"The model `{name}` does not exist or is not installed on this server (GET /v1/models lists them)",
        code="model_not_found",
        param="model",
    )


def _quota(refusal) -> ApiError:
    return ApiError(
        429,
        refusal.message,
        type="rate_limit_error" if refusal.code != "audio_quota_exceeded" else "insufficient_quota",
        code=refusal.code,
        retry_after=refusal.retry_after,
    )


def _error_response(exc: ApiError) -> Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(exc.body(), exc.status, headers)
