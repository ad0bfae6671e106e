"""CI's short form of scripts/server_faults.py: load, idle sockets, six faults, fuzzing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_server_survives_the_quick_fault_run():
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "server_faults.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr[-3000:]
    assert out.count("commits lost: 0,") == 6 and "all survived: True" in out
    assert "1011: 0; tracebacks: 0" in out
