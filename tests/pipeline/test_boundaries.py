"""`pipeline/` is the runtime and never imports the front ends in `rtt/`."""

import ast
from pathlib import Path

PIPELINE = Path(__file__).resolve().parents[2] / "pipeline"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_pipeline_never_imports_rtt():
    files = sorted(PIPELINE.rglob("*.py"))
    assert files
    offenders = {
        str(f.relative_to(PIPELINE)): sorted(
            m for m in imported_modules(f) if m == "rtt" or m.startswith("rtt.")
        )
        for f in files
    }
    assert {f: m for f, m in offenders.items() if m} == {}
