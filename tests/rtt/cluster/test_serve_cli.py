"""`rtt serve --ray`: documented in --help; without the extra, one clear line, no traceback."""

from __future__ import annotations

import sys

from rtt.cli import main


def test_help_explains_ray(capsys):
    try:
        main(["serve", "--help"])
    except SystemExit:
        pass
    out = capsys.readouterr().out
    assert "--ray auto|ADDRESS" in out
    assert "rtt[ray]" in out and "--replicas" in out


def test_without_the_extra_the_error_names_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    for name in [m for m in sys.modules if m.startswith("rtt.cluster")]:
        monkeypatch.delitem(sys.modules, name)
    code = main(["serve", "--ray", "auto", "--journal", str(tmp_path)])
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert code == 2
    assert "pip install 'rtt[ray]'" in err
    assert "Traceback" not in err
