"""`--from`: a language, `auto`, or `auto:` with candidates, into the ASR config."""

import argparse

import pytest

from pipeline.config import ASRConfig, load_config
from pipeline.errors import ConfigError
from rtt.settings import add_pipeline_options, config_from_args


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_pipeline_options(parser)
    return config_from_args(parser.parse_args(list(argv)))


def test_from_a_language_auto_and_candidates():
    assert (parse("--from", "de").asr.language, parse("--from", "de").asr.candidates) == ("de", ())
    assert parse("--from", "auto").asr.language is None
    asr = parse("--from", "auto:en,DE, es").asr
    assert (asr.language, asr.candidates) == (None, ("en", "de", "es"))
    assert parse().asr.language is None  # auto is the default


@pytest.mark.parametrize("spec", ["xx", "auto:", "auto:en,xx"])
def test_bad_source_languages_are_clear_errors(spec):
    with pytest.raises(ConfigError, match="unsupported language|candidate"):
        parse("--from", spec)


def test_toml_auto_with_candidates(tmp_path):
    path = tmp_path / "rtt.toml"
    path.write_text('[asr]\nlanguage = "auto"\ncandidates = ["en", "de"]\n')
    asr = load_config(path).asr
    assert (asr.language, asr.candidates) == (None, ("en", "de"))
    path.write_text('[asr]\nlanguage = "auto:fr,es"\n')
    assert load_config(path).asr.candidates == ("fr", "es")
    path.write_text('[asr]\ncandidates = ["en", "klingon"]\n')
    with pytest.raises(ConfigError, match="klingon"):
        load_config(path)


def test_the_window_is_whispers():
    with pytest.raises(ConfigError, match="window"):
        ASRConfig(window=40.0)


def test_the_clis_fit_the_machine_unless_pinned(tmp_path):
    assert parse().mt.fit == "auto"  # the live front ends' default
    assert parse("--fit", "off").mt.fit == "off"
    path = tmp_path / "rtt.toml"
    path.write_text('[mt]\nfit = "off"\n')
    assert parse("--config", str(path)).mt.fit == "off"  # a file that says so pins it
    assert parse("--config", str(path), "--fit", "recalibrate").mt.fit == "recalibrate"
    path.write_text('[mt]\nmodel = "qwen2.5-coder-0.5b"\n')
    assert parse("--config", str(path)).mt.fit == "auto"


def test_glossary_register_and_context_from_flags_and_toml(tmp_path):
    from pipeline.glossary import GlossaryError

    (tmp_path / "terms.csv").write_text("en,de\nheat pump,Wärmepumpe\n")
    config = parse("--glossary", str(tmp_path / "terms.csv"), "--register", "informal")
    assert len(config.glossary) == 1 and config.mt.register == "informal"
    assert parse().glossary is None and parse().mt.register == "formal"
    assert parse("--context", "0").mt.context == 0
    with pytest.raises(ConfigError, match="context"):
        parse("--context", "9")
    toml = tmp_path / "rtt.toml"
    toml.write_text('[glossary]\nfile = "terms.csv"\nterms = [{en = "grid", de = "Netz"}]\n')
    glossary = parse("--config", str(toml)).glossary
    assert [t.form("de") for t in glossary.terms] == ["Wärmepumpe", "Netz"]
    assert glossary.origin == str(tmp_path / "terms.csv")  # what `g` in rtt live reloads
    toml.write_text('[glossary]\nfile = "missing.csv"\n')
    with pytest.raises(GlossaryError, match="missing.csv"):
        parse("--config", str(toml))


def test_the_glossary_prompt_setting_from_flags_and_toml(tmp_path):
    assert parse().asr.glossary_prompt is True and parse().asr.glossary_tokens == 64
    assert parse("--glossary-prompt", "off").asr.glossary_prompt is False
    toml = tmp_path / "rtt.toml"
    toml.write_text("[asr]\nglossary_prompt = false\nglossary_tokens = 32\n")
    config = parse("--config", str(toml))
    assert config.asr.glossary_prompt is False and config.asr.glossary_tokens == 32
    assert parse("--config", str(toml), "--glossary-prompt", "on").asr.glossary_prompt is True
    toml.write_text("[asr]\nglossary_tokens = 400\n")
    with pytest.raises(ConfigError, match="glossary_tokens"):
        parse("--config", str(toml))


def test_target_commit_settings_from_flags_toml_and_a_sweep(tmp_path):
    from pathlib import Path

    from rtt.eval.sweep import load_sweep

    assert (parse().mt.commit, parse().mt.commit_lag) == ("agreement", 2)
    mt = parse("--commit", "sentence", "--commit-lag", "2", "--commit-agreement", "3").mt
    assert (mt.commit, mt.commit_lag, mt.commit_agreement) == ("sentence", 2, 3)
    path = tmp_path / "rtt.toml"
    path.write_text('[mt]\ncommit = "sentence"\n')
    assert load_config(path).mt.commit == "sentence"
    path.write_text('[mt]\ncommit = "words"\n')
    with pytest.raises(ConfigError, match="commit must be agreement or sentence"):
        load_config(path)
    with pytest.raises(ConfigError, match="commit_lag"):
        parse("--commit-lag", "-1")
    plan = load_sweep(Path(__file__).resolve().parents[2] / "rtt/eval/sweeps/commit.toml")
    by_name = {s.name: s.config.mt for s in plan.settings}
    assert by_name["sentence"].commit == "sentence"
    assert [by_name[f"agreement-lag-{k}"].commit_lag for k in range(4)] == [0, 1, 2, 3]
