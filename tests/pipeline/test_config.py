import re
from pathlib import Path

import pytest

from pipeline.config import MTConfig, PipelineConfig, load_config
from pipeline.errors import ConfigError
from pipeline.factory import mt_engines
from pipeline.fakes import fake_model_folders, fake_registry

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_loads(tmp_path):
    block = re.search(r"## Configuration.*?```toml\n(.*?)```", README.read_text(), re.DOTALL).group(
        1
    )
    path = tmp_path / "rtt.toml"
    path.write_text(block)
    config = load_config(path)
    assert config.mt.targets == ("de", "es") and config.asr.language == "en"
    assert config.mt.speculative == "stable" and config.compute.mt_threads == 1


def test_a_file_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "rtt.toml"
    path.write_text("[asr]\nstep = 1.0\n")
    config = load_config(path)
    assert config.asr.step == 1.0 and config.asr.model == PipelineConfig().asr.model


@pytest.mark.parametrize(
    "text, message",
    [
        ("[asr]\nstpe = 1\n", "unknown key"),
        ("[nope]\n", "unknown configuration section"),
        ("[asr\n", "rtt.toml"),
        ("asr = 3\n", "must be a table"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, text, message):
    path = tmp_path / "rtt.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config(Path("/nonexistent/rtt.toml"))


def test_none_means_none_in_a_config_file_as_on_the_command_line(tmp_path):
    path = tmp_path / "rtt.toml"
    path.write_text('[mt]\nfast_model = "none"\ndraft_model = "None"\n[asr]\nlanguage = "none"\n')
    config = load_config(path)
    assert config.mt.fast_model is None and config.mt.draft_model is None
    assert config.asr.language is None


def test_speculation_settings_are_checked_where_the_config_is_built(tmp_path):
    path = tmp_path / "rtt.toml"
    path.write_text("[mt]\nbeta = 1.5\n")
    with pytest.raises(ConfigError, match="beta"):
        load_config(path)
    with pytest.raises(ConfigError, match="speculative"):
        MTConfig(speculative="fast")
    assert MTConfig().use_draft_model is False  # off until a measurement says otherwise


def test_the_translation_runtime_is_checked_where_the_config_is_built(tmp_path):
    path = tmp_path / "rtt.toml"
    path.write_text('[mt]\nruntime = "llama"\n')
    with pytest.raises(ConfigError, match="runtime must be auto, llama.cpp or ctranslate2"):
        load_config(path)
    assert MTConfig(runtime="llama.cpp").runtime == "llama.cpp"


def test_the_core_budget_is_set_in_the_mt_section_and_checked(tmp_path):
    path = tmp_path / "rtt.toml"
    path.write_text('[mt]\nbudget = "off"\nfinal_deadline = 2.5\n')
    config = load_config(path)
    assert (config.mt.budget, config.mt.final_deadline) == ("off", 2.5)
    assert (MTConfig().budget, MTConfig().final_deadline) == ("auto", 4.0)
    for text, message in (
        ('budget = "on"', "budget must be auto or off"),
        ("final_deadline = 0", "final_deadline must be positive"),
        ('final_deadline = "4"', "final_deadline must be positive"),
    ):
        path.write_text(f"[mt]\n{text}\n")
        with pytest.raises(ConfigError, match=message):
            load_config(path)


def test_a_translation_model_of_another_family_is_refused(tmp_path):
    asr, mt = fake_model_folders(tmp_path)
    config = PipelineConfig(mt=MTConfig(model=str(asr), fast_model=None, speculative="off"))
    with pytest.raises(ConfigError, match="not a translation"):
        mt_engines(fake_registry(), config)
    (mt / "rtt-model.json").unlink()  # no marker, and files that say nothing about ChatML
    config = PipelineConfig(mt=MTConfig(model=str(mt), fast_model=None, speculative="off"))
    with pytest.raises(ConfigError, match="family"):
        mt_engines(fake_registry(), config)
