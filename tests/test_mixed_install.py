"""``import llmrix`` from a package directory shared with the official SDK fails clearly.

Each case builds an installed-looking ``llmrix`` in a temporary directory (a copy
of this package, plus files of llmrix-python-sdk) and imports it in a fresh
interpreter whose only ``llmrix`` is that copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import llmrix
from benchmarks.corpus import official_sdk_path
from benchmarks.official import OfficialSDKMissing, install_official
from llmrix._mixed_install import OFFICIAL_ONLY_FILES

PACKAGE = Path(llmrix.__file__).parent
OFFICIAL = Path(__file__).resolve().parents[1] / ".official-sdk" / "llmrix"


@pytest.fixture(scope="module")
def official() -> Path:
    """The official package's files, installed into ``.official-sdk`` if missing (else skip)."""
    if official_sdk_path() is None:
        try:
            install_official(timeout=180)
        except OfficialSDKMissing as exc:
            pytest.skip(f"official llmrix-python-sdk unavailable: {exc}")
    return OFFICIAL


def install_copy(site: Path) -> Path:
    target = site / "llmrix"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def import_in(site: Path, module: str = "llmrix") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-s", "-c", f"import {module}; print({module}.__file__)"],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_clean_copy_imports(tmp_path: Path) -> None:
    install_copy(tmp_path)
    done = import_in(tmp_path, "llmrix.sync")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(tmp_path))


@pytest.mark.parametrize("official_file", OFFICIAL_ONLY_FILES)
def test_any_official_file_is_detected(tmp_path: Path, official_file: str) -> None:
    package = install_copy(tmp_path)
    (package / official_file).parent.mkdir(exist_ok=True)
    (package / official_file).write_text("")
    done = import_in(tmp_path)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()
    error = "\n".join(last[next(i for i, line in enumerate(last) if "ImportError" in line) :])
    assert f"ImportError: cannot import llmrix: {package}" in error
    assert "llmrix-python-sdk" in error
    assert official_file in error
    assert "-m pip uninstall -y llmrix-python-sdk llmrix" in error
    assert "-m pip install llmrix" in error
    assert "AgentEnvelope" not in error


def test_ours_installed_over_the_official_sdk(official: Path, tmp_path: Path) -> None:
    """What pip leaves when llmrix is installed after llmrix-python-sdk."""
    shutil.copytree(OFFICIAL, tmp_path / "llmrix", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        PACKAGE,
        tmp_path / "llmrix",
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )
    done = import_in(tmp_path)
    assert "ImportError: cannot import llmrix" in done.stderr
    assert "_http.py" in done.stderr


def test_official_installed_over_ours_fails_at_llmrix_sync(official: Path, tmp_path: Path) -> None:
    """The other order: the official ``__init__`` wins, so ``import llmrix`` is theirs."""
    install_copy(tmp_path)
    shutil.copytree(
        OFFICIAL,
        tmp_path / "llmrix",
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )
    done = import_in(tmp_path, "llmrix.sync")
    assert "ImportError: cannot import llmrix" in done.stderr
