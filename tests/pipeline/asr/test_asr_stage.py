"""The streaming ASR stage with a scripted engine (the model is not the point here)."""

import numpy as np
import pytest

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
    """Hears one word of the script per 0.5 s of buffer; detects German (or `probs`)."""

    multilingual = True

    def __init__(self, probs=(("de", 0.95), ("en", 0.05)), pass_probs=()):
        self.requests = []
        self.detections = []
        self.probs = probs
        self.pass_probs = pass_probs

    async def transcribe(self, request):
        self.requests.append(request)
        n = int(len(request.audio) / 8000)
        words = [Word(SCRIPT[i % len(SCRIPT)], i * 0.5, i * 0.5 + 0.4) for i in range(n)]
        return ASRResult(tuple(words), request.language or "de", 0.0, self.pass_probs)

    async def detect(self, request):
        self.detections.append(len(request.audio) / 16000)
        return self.probs


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
    engine, stage = make(step=0.5, language="en")
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
    assert commits[0].language_probability == 0.95
    # detected once, on a full window before the first pass; every pass decodes German
    assert engine.detections == [0.5] and {r.language for r in engine.requests} == {"de"}
    assert any(isinstance(o, SourcePartial) and o.text for o in out)
    out = await drive(stage, [SpeechEnd(stream="s", utterance=1, end=3.0), End(stream="s")])
    committed = " ".join(c.text for c in commits + [o for o in out if isinstance(o, SourceCommit)])
    assert committed == " ".join(SCRIPT[:6])
    kinds = [type(o).__name__ for o in out]
    assert kinds[-2:] == ["SpeechEnd", "End"] and "SourceCommit" in kinds
    assert [o.text for o in out if isinstance(o, SourcePartial)] == [""]  # the partial is cleared


async def test_long_utterance_trims_the_buffer_at_a_sentence_end():
    engine, stage = make(step=0.5, max_buffer=2.0, language="en")
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


class SequenceEngine(ScriptedEngine):
    """Detections answer from a list (the last one repeats)."""

    def __init__(self, answers, pass_probs=()):
        super().__init__(pass_probs=pass_probs)
        self.answers = list(answers)

    async def detect(self, request):
        self.detections.append(len(request.audio) / 16000)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


UNSURE = (("bo", 0.4), ("de", 0.35), ("en", 0.25))
GERMAN = (("de", 0.95), ("en", 0.05))
ENGLISH = (("en", 0.95), ("de", 0.05))


def speech(utterance, start, seconds):
    return [SpeechStart(stream="s", utterance=utterance, start=start)] + [
        AudioChunk(
            stream="s",
            utterance=utterance,
            start=start + i / 10,
            samples=np.zeros(1600, np.float32),
        )
        for i in range(int(seconds * 10))
    ]


async def test_undecided_partials_say_und_and_nothing_is_committed():
    engine = SequenceEngine([UNSURE, UNSURE, GERMAN])
    stage = ASRStage(engine, ASRConfig(step=0.5, language=None))
    out = await drive(stage, speech(1, 0.0, 1.4))
    assert not [o for o in out if isinstance(o, SourceCommit)]
    partials = [o for o in out if isinstance(o, SourcePartial) and o.text]
    assert partials and {p.lang for p in partials} == {"und"}
    # decoded in the best guess so far, among the languages rtt supports (not "bo")
    assert {r.language for r in engine.requests} == {"de"}
    out = await drive(stage, speech(1, 1.4, 2.0)[1:])
    commits = [o for o in out if isinstance(o, SourceCommit)]
    assert (
        commits and {c.lang for c in commits} == {"de"} and commits[0].language_probability == 0.95
    )
    assert stage.lid.decided_at >= 2.0 and len(engine.detections) == 3


async def test_an_utterance_that_ends_undecided_is_committed_once_the_language_is_known():
    engine = SequenceEngine([UNSURE, UNSURE, UNSURE, GERMAN])
    stage = ASRStage(engine, ASRConfig(step=0.5, language=None))
    out = await drive(stage, speech(1, 0.0, 1.5) + [SpeechEnd(stream="s", utterance=1, end=1.5)])
    assert not [o for o in out if isinstance(o, SourceCommit)]
    out = await drive(stage, speech(2, 3.0, 2.5) + [SpeechEnd(stream="s", utterance=2, end=5.5)])
    commits = [o for o in out if isinstance(o, SourceCommit)]
    # utterance 1 comes first, late, with its own number and times, in the decided language
    assert [c.utterance for c in commits][0] == 1 and commits[0].start == 0.0
    assert {c.lang for c in commits} == {"de"} and {c.utterance for c in commits} == {1, 2}
    assert commits[0].text == "Hello there. This"


async def test_the_end_of_the_stream_decides_a_held_utterance():
    engine = SequenceEngine([UNSURE])
    stage = ASRStage(engine, ASRConfig(step=0.5, language=None))
    events = speech(1, 0.0, 1.5) + [SpeechEnd(stream="s", utterance=1, end=1.5), End(stream="s")]
    out = await drive(stage, events)
    commits = [o for o in out if isinstance(o, SourceCommit)]
    assert [c.lang for c in commits] == ["de"] and commits[0].language_probability == 0.583
    assert isinstance(out[-1], End)


async def test_a_switch_is_followed_on_evidence_and_commits_wait_for_it():
    engine = SequenceEngine([ENGLISH, GERMAN])
    stage = ASRStage(engine, ASRConfig(step=0.5, language=None))
    out = await drive(stage, speech(1, 0.0, 11.0) + [SpeechEnd(stream="s", utterance=1, end=11.0)])
    assert {c.lang for c in out if isinstance(c, SourceCommit)} == {"en"}
    assert len(engine.detections) == 1  # no re-detection without evidence
    engine.pass_probs = (("de", 0.9), ("en", 0.1))  # the passes' own windows now hear German
    out = await drive(stage, speech(2, 12.0, 4.0) + [SpeechEnd(stream="s", utterance=2, end=16.0)])
    commits = [o for o in out if isinstance(o, SourceCommit)]
    assert commits and {c.lang for c in commits} == {"de"}
    assert len(engine.detections) == 3 and stage.lid.switches == 1  # two re-detections agree
    assert engine.requests[-1].language == "de"  # the final pass decodes in the new language


async def test_a_fixed_language_never_detects():
    engine = ScriptedEngine()
    stage = ASRStage(engine, ASRConfig(step=0.5, language="es"))
    out = await drive(stage, speech(1, 0.0, 2.0) + [SpeechEnd(stream="s", utterance=1, end=2.0)])
    commits = [o for o in out if isinstance(o, SourceCommit)]
    assert commits and {(c.lang, c.language_probability) for c in commits} == {("es", None)}
    assert engine.detections == []


class NoiseEngine(ScriptedEngine):
    """Hears nothing (noise), or words that never agree from one pass to the next."""

    def __init__(self, babble=False):
        super().__init__()
        self.babble = babble

    async def transcribe(self, request):
        self.requests.append(request)
        if not self.babble:
            return ASRResult((), "en")
        n = int(len(request.audio) / 8000)
        seed = len(self.requests)
        words = [Word(f"w{seed}x{i}", i * 0.5, i * 0.5 + 0.4) for i in range(n)]
        return ASRResult(tuple(words), "en")


@pytest.mark.parametrize("babble", [False, True], ids=["noise", "no-agreement"])
async def test_the_buffer_never_outgrows_whispers_window(babble):
    engine = NoiseEngine(babble)
    stage = ASRStage(engine, ASRConfig(step=0.5, language="en"))
    out = await drive(stage, speech(1, 0.0, 45.0) + [SpeechEnd(stream="s", utterance=1, end=45.0)])
    longest = max(len(r.audio) for r in engine.requests) / 16000
    assert longest + stage.config.padding <= stage.config.window
    commits = [o for o in out if isinstance(o, SourceCommit)]
    if babble:  # words heard but never agreed: forced out before they leave the window
        assert commits and commits[0].end <= 30.0 and commits[0].start == 0.0
    else:
        assert not commits


async def test_a_short_utterance_does_not_switch_the_language():
    engine = SequenceEngine([ENGLISH, GERMAN])
    stage = ASRStage(engine, ASRConfig(step=0.5, language=None))
    await drive(stage, speech(1, 0.0, 11.0) + [SpeechEnd(stream="s", utterance=1, end=11.0)])
    engine.pass_probs = (("de", 0.9), ("en", 0.1))
    out = await drive(stage, speech(2, 12.0, 1.5) + [SpeechEnd(stream="s", utterance=2, end=13.5)])
    # evidence, but 1.5 s is too little to judge a switch on: kept, and committed in English
    assert len(engine.detections) == 1 and stage.lid.language == "en"
    assert {c.lang for c in out if isinstance(c, SourceCommit)} == {"en"}


async def test_a_question_in_another_language_then_the_answer_switches_back():
    # the question's first utterance is unsure after its first clear German window; the second
    # confirms German; the answer, right after, switches back (no 10 s cooldown after a switch)
    unsure = (("en", 0.6), ("de", 0.4))
    engine = SequenceEngine([ENGLISH, GERMAN, unsure, unsure, GERMAN, ENGLISH])
    stage = ASRStage(engine, ASRConfig(step=0.5, language=None, candidates=("en", "de")))
    await drive(stage, speech(1, 0.0, 11.0) + [SpeechEnd(stream="s", utterance=1, end=11.0)])
    engine.pass_probs = (("de", 0.9), ("en", 0.1))
    out = await drive(stage, speech(2, 12.0, 5.0) + [SpeechEnd(stream="s", utterance=2, end=17.0)])
    assert not [c for c in out if isinstance(c, SourceCommit)]  # held: a switch is suspected
    out = await drive(stage, speech(3, 18.0, 4.5) + [SpeechEnd(stream="s", utterance=3, end=22.5)])
    commits = [c for c in out if isinstance(c, SourceCommit)]
    assert {c.lang for c in commits} == {"de"} and {c.utterance for c in commits} == {2, 3}
    assert commits[0].utterance == 2 and commits[0].start == 12.0  # late, in the new language
    engine.pass_probs = (("en", 0.9), ("de", 0.1))
    out = await drive(stage, speech(4, 23.5, 4.5) + [SpeechEnd(stream="s", utterance=4, end=28.0)])
    assert {c.lang for c in out if isinstance(c, SourceCommit)} == {"en"}
    assert stage.lid.switches == 2
