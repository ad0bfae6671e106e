"""rtt's chat prompt template and the cleaning of model chatter."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.languages import LANGUAGES
from pipeline.mt.prompts import EXAMPLES, clean_output, system_prompt, template_for
from tests.conftest import model_path

CHATML = template_for("chatml")


# --- template text ------------------------------------------------------------


def test_system_prompt_names_both_languages_and_the_rules() -> None:
    text = system_prompt("en", "de")
    assert "English" in text and "German" in text
    assert "only" in text and "names and numbers" in text
    assert "unfinished" in text and "do not complete" in text


def test_static_part_depends_only_on_the_language_pair() -> None:
    static = CHATML.static_text("en", "de")
    assert static.startswith("<|im_start|>system\n") and static.endswith("<|im_end|>\n")
    assert static == CHATML.static_text("en", "de") != CHATML.static_text("en", "es")
    assert EXAMPLES["en"] in static and EXAMPLES["de"] in static  # the one-shot exchange


def test_request_part_frames_the_text_and_opens_the_assistant_turn() -> None:
    text = CHATML.request_text("de", "  Good morning \n")
    assert (
        text
        == "<|im_start|>user\nTranslate into German:\nGood morning<|im_end|>\n<|im_start|>assistant\n"
    )


def test_every_language_has_an_example() -> None:
    assert set(EXAMPLES) == set(LANGUAGES)


def test_unknown_family_and_language_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="prompt family"):
        template_for("llama9")
    with pytest.raises(ConfigError, match="unsupported language"):
        CHATML.static_text("en", "xx")


def test_tokens_with_the_real_tokenizer() -> None:
    import tokenizers

    path = model_path("smollm2-135m") / "tokenizer.json"

    tok = tokenizers.Tokenizer.from_file(str(path))
    static, request = CHATML.encode(tok, "en", "de", "The cat sleeps.")
    assert static[:3] == ["<|im_start|>", "system", "Ċ"]  # special tokens stay whole
    assert static[-2:] == ["<|im_end|>", "Ċ"]
    assert request[:3] == ["<|im_start|>", "user", "Ċ"]
    last = max(i for i, t in enumerate(request) if t == "<|im_start|>")
    ids = [tok.token_to_id(t) for t in request[last:]]
    assert tok.decode(ids, skip_special_tokens=False) == "<|im_start|>assistant\n"
    assert all(tok.token_to_id(t) is not None for t in static + request)
    assert all(tok.token_to_id(t) is not None for t in CHATML.end_tokens)
    # Split encoding equals encoding the whole prompt at once: no merge across the seam.
    whole = CHATML.static_text("en", "de") + CHATML.request_text("de", "The cat sleeps.")
    assert static + request == tok.encode(whole, add_special_tokens=False).tokens


# --- clean_output -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Der Hund schläft.", "Der Hund schläft."),
        ("  Der Hund schläft. \n", "Der Hund schläft."),
        ("Here is the translation: Der Hund schläft.", "Der Hund schläft."),
        ("Here's the German translation:\n\nDer Hund schläft.", "Der Hund schläft."),
        ("Sure! Here is the translation of the text:\nDer Hund schläft.", "Der Hund schläft."),
        ("Translation: Der Hund schläft.", "Der Hund schläft."),
        ("German translation: Der Hund schläft.", "Der Hund schläft."),
        ("German: Der Hund schläft.", "Der Hund schläft."),
        ("Übersetzung: Der Hund schläft.", "Der Hund schläft."),
        ('"Der Hund schläft."', "Der Hund schläft."),
        ("„Der Hund schläft.“", "Der Hund schläft."),
        ("«El perro duerme.»", "El perro duerme."),
        ("```\nDer Hund schläft.\n```", "Der Hund schläft."),
        ("```text\nDer Hund schläft.\n```\nThis is German.", "Der Hund schläft."),
        ("Der Hund schläft.\n\nThis translates the sentence literally.", "Der Hund schläft."),
        ("Der Hund schläft.\nNote: 'Hund' means dog.", "Der Hund schläft."),
        ("Der Hund schläft. (Note: literal translation)", "Der Hund schläft."),
        ("", ""),
    ],
)
def test_clean_output_strips_chatter(raw: str, clean: str) -> None:
    assert clean_output(raw) == clean


@pytest.mark.parametrize(
    "text",
    [
        'Er sagte "Hallo" und ging.',  # inner quotes stay
        '"Hallo", sagte er, "bis morgen"',  # quotes that do not wrap the whole text stay
        "Maria ruft Tom um 9 Uhr an und",  # an unfinished prefix stays unfinished
        "Zeile eins\nZeile zwei",
        "Wir übersetzen: das ist schwer.",  # a colon inside a real translation stays
    ],
)
def test_clean_output_keeps_real_text(text: str) -> None:
    assert clean_output(text) == text


def test_clean_output_drops_an_ellipsis_the_speaker_did_not_say() -> None:
    assert clean_output("Der Zug hatte Verspätung, daher...", "The train was late, so I") == (
        "Der Zug hatte Verspätung, daher"
    )
    assert clean_output("Der Zug…", "The train") == "Der Zug"
    assert clean_output("Nun ja...", "Well...") == "Nun ja..."
    assert clean_output("Nun ja...") == "Nun ja..."  # without a source, nothing to compare
