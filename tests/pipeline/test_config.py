import re
from pathlib import Path

import pytest

from pipeline.config import PipelineConfig, load_config
from pipeline.errors import ConfigError

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
