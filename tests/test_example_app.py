"""examples/testing_app: a user's app function and its tests, run as the user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "examples" / "testing_app"


def test_the_example_apps_tests_pass_with_warnings_as_errors() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LLMRIX_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-W", "error", "-p", "no:cacheprovider", "-q"],
        cwd=APP,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b6 passed\b", result.stdout), result.stdout
