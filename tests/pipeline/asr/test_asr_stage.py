"""The streaming ASR stage with a scripted engine (the model is not the point here)."""

import numpy as np

from pipeline.asr.backend import ASRResult
from pipeline.asr.stage import ASRStage
from pipeline.asr.whisper_backend import cut_loop
from pipeline.config import ASRConfig
from pipeline.events import (
    AudioChunk,
    End,
    SourceCommit,
    SourcePartial,
    SpeechEnd,
    SpeechStart,
    Word,
)

SCRIPT = (
    "Hello there. This is a long talk about streaming speech recognition and what it needs".split()
)


class ScriptedEngine:
    """Hears one word of the script per 0.5 s of buffer; detects German."""

    def __init__(self):
        self.requests = []

    async def transcribe(self, request):
        self.requests.append(request)
        n = int(len(request.audio) / 8000)
        words = [Word(SCRIPT[i % len(SCRIPT)], i * 0.5, i * 0.5 + 0.4) for i in range(n)]
        return ASRResult(tuple(words), "de")


def chunk(t, seconds=0.1):
    return AudioChunk(
        stream="s", utterance=1, start=t, samples=np.zeros(int(16000 * seconds), np.float32)
    )


async def drive(stage, events, work=True):
    out = []
    for event in events:
        async for o in stage.process(event):
            out.append(o)
        while work and stage.pending():
            async for o in stage.work():
                out.append(o)
    return out


def make(**config):
    engine = ScriptedEngine()
    return engine, ASRStage(engine, ASRConfig(**config))


async def test_passes_run_every_step_and_grow_when_behind():
    engine, stage = make(step=0.5)
    await drive(
        stage,
        [SpeechStart(stream="s", utterance=1, start=0.0)] + [chunk(i / 10) for i in range(20)],
    )
    assert [len(r.audio) / 16000 for r in engine.requests] == [0.5, 1.0, 1.5, 2.0]
    # behind: chunks arrive without a chance to work; one pass then covers them all
    await drive(stage, [chunk(2 + i / 10) for i in range(12)], work=False)
    assert len(engine.requests) == 4 and stage.pending()
    await drive(stage, [])
    async for _ in stage.work():
        pass
    assert len(engine.requests[-1].audio) / 16000 == 3.2


async def test_commits_partials_and_final_pass():
    engine, stage = make(step=0.5, language=None)
    out = await drive(
        stage,
        [SpeechStart(stream="s", utterance=1, start=0.0)] + [chunk(i / 10) for i in range(30)],
    )
    commits = [o for o in out if isinstance(o, SourceCommit)]
    assert commits and commits[0].lang == "de" and stage.language == "de"
    assert (
        engine.requests[0].language is None and engine.requests[-1].language == "de"
    )  # detected once
    assert any(isinstance(o, SourcePartial) and o.text for o in out)
    out = await drive(stage, [SpeechEnd(stream="s", utterance=1, end=3.0), End(stream="s")])
    committed = " ".join(c.text for c in commits + [o for o in out if isinstance(o, SourceCommit)])
    assert committed == " ".join(SCRIPT[:6])
    kinds = [type(o).__name__ for o in out]
    assert kinds[-2:] == ["SpeechEnd", "End"] and "SourceCommit" in kinds
    assert [o.text for o in out if isinstance(o, SourcePartial)] == [""]  # the partial is cleared


async def test_long_utterance_trims_the_buffer_at_a_sentence_end():
    engine, stage = make(step=0.5, max_buffer=2.0)
    await drive(
        stage,
        [SpeechStart(stream="s", utterance=1, start=0.0)] + [chunk(i / 10) for i in range(30)],
    )
    # "Hello there." ended at 0.9 s: the buffer now starts there and the words became context
    assert stage._buffer_start == 0.9
    assert engine.requests[-1].prompt == "Hello there."
    assert len(engine.requests[-1].audio) < 3.0 * 16000


def test_cut_loop_keeps_the_first_copy():
    ws = [
        Word(w, i, i + 1)
        for i, w in enumerate("we accepted 62 talks. we accepted 62 talks. we accepted".split())
    ]
    assert " ".join(w.word for w in cut_loop(ws)) == "we accepted 62 talks."
    ws = [Word(w, i, i + 1) for i, w in enumerate("thank you you you you".split())]
    assert " ".join(w.word for w in cut_loop(ws)) == "thank you"
    ws = [Word(w, i, i + 1) for i, w in enumerate("very very good".split())]
    assert len(cut_loop(ws)) == 3  # a word said twice is speech, not a loop
