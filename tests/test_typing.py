"""The public signatures turn misuse into type errors: mypy --strict on typing_misuse.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = Path("tests", "typing_misuse.py")


def test_each_misuse_is_a_type_error_and_nothing_else_is() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(CASES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    flagged = {
        int(line.split(":")[1])
        for line in done.stdout.splitlines()
        if line.startswith(str(CASES)) and ": error:" in line
    }
    lines = (ROOT / CASES).read_text().splitlines()
    expected = {number for number, line in enumerate(lines, 1) if line.endswith("# error")}
    assert flagged == expected, done.stdout
