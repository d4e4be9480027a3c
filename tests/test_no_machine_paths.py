"""The project speaks of itself only: no paths of the machine it was written on."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|home|root|Users|private/var)/")


def published_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "mkdocs.yml"]
    for top, pattern in [
        ("docs", "**/*.md"),
        ("benchmarks", "*.md"),
        ("benchmarks", "*.py"),
        ("examples", "*.py"),
        ("llmrix", "**/*.py"),
    ]:
        files += sorted((ROOT / top).glob(pattern))
    return files


def test_no_machine_specific_paths() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in published_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MACHINE_PATH.search(line)
    ]
    assert found == []


def test_the_pattern_catches_what_it_should() -> None:
    assert MACHINE_PATH.search("cd /work/main && python")
    assert MACHINE_PATH.search("--json /tmp/bench.json")
    assert not MACHINE_PATH.search("see docs/work/notes and http://host/tmp/x")
