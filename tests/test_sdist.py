"""The sdist is complete: everything the test suite reads is inside it.

``.ci/run`` also unpacks the sdist and runs the whole suite from there.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEEDED = ["llmrix", "tests", "examples", "benchmarks", "docs"]
NEEDED_FILES = ["pyproject.toml", "README.md", "LICENSE", "mkdocs.yml"]


def source_files() -> set[str]:
    found = set(NEEDED_FILES)
    for top in NEEDED:
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".md", ".typed"):
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_the_sdist_holds_every_file_the_tests_need(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (archive,) = tmp_path.glob("llmrix-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert source_files() <= names, sorted(source_files() - names)
    assert not [name for name in names if name.startswith((".venv", ".official-sdk", "site/"))]
    assert not [name for name in names if "__pycache__" in name]
