"""Draft acceptance, draft sources and the speculative loop, on a scripted fake model."""

import math

import numpy as np
import pytest

from pipeline.config import MTConfig
from pipeline.errors import ConfigError
from pipeline.mt.drafts import PreviousHypothesis, PromptLookup, ngram_continuation
from pipeline.mt.speculative import SpeculativeBackend
from pipeline.mt.stage import masked_partial
from pipeline.mt.translator import Translation, TranslationRequest
from pipeline.mt.verify import PositionScore, Verdict, position_scores, verify_draft

EOS = 0


def scripted(choices, draft=(), margins=None):
    """Scores of a model whose greedy choice at position i is choices[i]."""
    margins = margins or {}
    return [
        PositionScore(
            best, 0.0 if i < len(draft) and draft[i] == best else margins.get(i, -math.inf)
        )
        for i, best in enumerate(choices)
    ]


# -- verify_draft -----------------------------------------------------------------
def test_full_accept_takes_the_bonus_token():
    draft = [5, 6, 7]
    assert verify_draft(draft, scripted([5, 6, 7, 8], draft)) == Verdict(3, (5, 6, 7, 8), False)


def test_divergence_at_the_first_token_still_yields_the_models_token():
    draft = [5, 6, 7]
    assert verify_draft(draft, scripted([9, 6, 7, 8], draft)) == Verdict(0, (9,), False)


def test_divergence_mid_draft_keeps_the_agreeing_prefix():
    draft = [5, 6, 7, 8]
    assert verify_draft(draft, scripted([5, 6, 3, 8, 1], draft)) == Verdict(2, (5, 6, 3), False)


def test_end_token_inside_the_draft_finishes():
    draft = [5, EOS, 7]
    verdict = verify_draft(draft, scripted([5, EOS, 7, 8], draft), end_ids={EOS})
    assert verdict == Verdict(2, (5,), True)


def test_model_choosing_the_end_token_finishes_without_it():
    draft = [5, 6]
    assert verify_draft(draft, scripted([5, EOS, 1], draft), end_ids={EOS}) == Verdict(
        1, (5,), True
    )
    assert verify_draft(draft, scripted([5, 6, EOS], draft), end_ids={EOS}) == Verdict(
        2, (5, 6), True
    )


def test_empty_draft_gives_the_models_next_token():
    assert verify_draft([], scripted([4])) == Verdict(0, (4,), False)
    assert verify_draft([], []) == Verdict(0, (), False)


def test_beta_below_one_keeps_a_close_draft_token_and_rejects_a_far_one():
    draft = [5, 6, 7]
    margins = {1: math.log(0.6), 2: math.log(0.2)}  # p(draft)/p(best) at positions 1 and 2
    scores = scripted([5, 9, 3, 8], draft, margins)
    assert verify_draft(draft, scores, beta=1.0) == Verdict(1, (5, 9), False)
    assert verify_draft(draft, scores, beta=0.5) == Verdict(2, (5, 6, 3), False)
    assert verify_draft(draft, scores, beta=0.1) == Verdict(3, (5, 6, 7, 8), False)
    assert verify_draft(draft, scores, beta=0.0) == Verdict(3, (5, 6, 7, 8), False)
    # the bias covers only the seen head of the draft
    assert verify_draft(draft, scores, beta=0.1, biased_until=1) == Verdict(1, (5, 9), False)


def test_beta_out_of_range_is_refused():
    with pytest.raises(ValueError):
        verify_draft([1], scripted([1, 2]), beta=1.5)
    with pytest.raises(ConfigError):
        MTConfig(speculative="stable", beta=-0.1)


# -- draft sources ----------------------------------------------------------------
def test_previous_hypothesis_follows_then_rejoins_after_a_divergence():
    source = PreviousHypothesis([1, 2, 3, 4, 5, 6])
    assert source.propose([], 10) == [1, 2, 3, 4, 5, 6]
    assert source.propose([1, 2], 3) == [3, 4, 5]
    assert source.propose([1, 9, 3, 4], 10) == [5, 6]  # substitution, re-joined on (3, 4)
    assert source.propose([1, 2, 7, 8], 10) == []  # no re-join yet
    assert source.propose([1, 2, 3, 4, 5, 6, 7], 10) == []


def test_prompt_lookup_copies_names_from_the_source():
    source = PromptLookup([11, 20, 21, 22, 12])  # e.g. "... Maria Santos ..."
    assert source.propose([30, 20, 21], 5) == [22, 12]
    assert ngram_continuation([1, 2, 3], [2], 1, 5) == [3]
    assert ngram_continuation([1, 2, 3], [], 2, 5) == []


def test_masked_partial_hides_the_last_words():
    assert masked_partial("Guten Morgen zusammen und herzlich", 2) == "Guten Morgen zusammen"
    assert masked_partial("Guten Morgen", 3) == ""
    assert masked_partial("Guten Morgen", 0) == "Guten Morgen"


# -- the speculative loop on a scripted model ------------------------------------
WORDS = [
    "<eos>",
    "<p>",
    "Guten",
    "Morgen",
    "zusammen",
    "und",
    "willkommen",
    "in",
    "Lissabon",
    "herzlich",
]


class ScriptedGenerator:
    """Greedy choice after the prompt: the next word of `answer`, then <eos>."""

    def __init__(self, answer, prompt_len):
        self.answer = answer
        self.prompt_len = prompt_len
        self.forwards = 0
        self.generated = 0

    def choice(self, sequence):
        i = len(sequence) - self.prompt_len
        return self.answer[i] if 0 <= i < len(self.answer) else EOS


class FakeTarget:
    """A `SpeculationTarget` over word ids: verification and continuation are scripted."""

    name = "fake"

    def __init__(self, answer):
        self.generator = ScriptedGenerator(answer, prompt_len=2)
        self.end_ids = [EOS]

    def prompt_ids(self, request):
        return [1], [1]

    def encode(self, text):
        return [WORDS.index(w) for w in text.split()]

    def decode(self, ids):
        return " ".join(WORDS[i] for i in ids if i != EOS)

    def token_limit(self, dynamic):
        return 20

    def to_translation(self, request, ids):
        text = self.decode(ids)
        return Translation(text, len(ids), len(ids))

    def greedy(self, static, prefix, max_new, stop=lambda token: False):
        seq, out = [*static, *prefix], []
        for _step in range(max_new):
            token = self.generator.choice(seq)
            seq.append(token)
            out.append(token)
            self.generator.generated += 1
            if stop(token) or token == EOS:
                break
        return out

    def scores(self, static, sequence, first):
        self.generator.forwards += 1
        full = [*static, *sequence]
        logits = np.full((len(full), len(WORDS)), -10.0, dtype=np.float32)
        for j in range(len(full)):
            logits[j, self.generator.choice(full[: j + 1])] = 0.0
        return position_scores(logits[len(static) + first - 1 :], sequence[first:])


ANSWER = [
    WORDS.index(w) for w in "Guten Morgen zusammen und herzlich willkommen in Lissabon".split()
]


def speculate(draft, **settings):
    target = FakeTarget(ANSWER)
    backend = SpeculativeBackend(target, MTConfig(speculative=settings.pop("mode"), **settings))
    ids, steps = backend.speculate(TranslationRequest("Good morning", "en", "de", draft=draft))
    return ids, steps, backend.stats, target.generator


def test_exact_mode_gives_the_greedy_answer_whatever_the_draft():
    for draft in (
        None,
        "Guten Morgen",
        "Guten Morgen zusammen und willkommen in Lissabon",
        "Morgen Guten",
    ):
        ids, _, _, _ = speculate(draft, mode="exact", min_draft=2)
        assert ids == ANSWER, draft


def test_a_correct_draft_costs_one_pass():
    ids, steps, stats, generator = speculate(" ".join(WORDS[i] for i in ANSWER), mode="exact")
    assert ids == ANSWER and steps == 1 and generator.forwards == 1 and generator.generated == 0
    assert stats.acceptance_rate == 1.0


def test_after_a_divergence_the_draft_is_proposed_again_where_the_output_rejoins_it():
    # "Lissabon" stands where the model says "zusammen"; after "und herzlich" the
    # output re-joins the draft, whose rest is verified in a second pass.
    ids, steps, stats, generator = speculate(
        "Guten Morgen Lissabon und herzlich willkommen in Lissabon", mode="exact", min_draft=2
    )
    assert ids == ANSWER
    assert generator.forwards == 2 and generator.generated == 2
    assert steps == 4  # pass, "und", "herzlich", pass
    assert stats.accepted == 2 + 3


def test_a_missing_word_costs_only_the_tokens_after_it():
    ids, steps, _, generator = speculate(
        "Guten Morgen zusammen und willkommen in Lissabon", mode="exact", min_draft=2
    )
    assert ids == ANSWER
    assert generator.forwards == 1 and steps == 1 + 4  # pass; willkommen, in, Lissabon, end


def test_stable_beta_zero_keeps_the_seen_part_without_a_pass():
    # "Guten Morgen" was shown and is kept unverified; the masked "und" is decoded again
    ids, steps, _, generator = speculate(
        "Guten Morgen und", mode="stable", beta=0.0, display_mask=1
    )
    assert ids == ANSWER and generator.forwards == 0
    assert steps == len(ANSWER) - 2 + 1  # the new tokens and the end token's call


def test_stable_beta_zero_keeps_even_a_wrong_seen_part():
    ids, _, _, generator = speculate(
        "Guten Lissabon zusammen", mode="stable", beta=0.0, display_mask=1
    )
    assert ids[:2] == [WORDS.index("Guten"), WORDS.index("Lissabon")] and generator.forwards == 0
