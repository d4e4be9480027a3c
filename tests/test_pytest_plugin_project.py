"""The pytest plugin in a fresh project: the documented configuration and example, nothing else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "pytest-plugin.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(), re.S | re.M)


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LLMRIX_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-W", "error", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_documented_setup_passes_with_warnings_as_errors(tmp_path: Path) -> None:
    (config,) = blocks("toml")
    (example,) = blocks("python")
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_agent.py").write_text(example)
    result = run_pytest(tmp_path, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b3 passed\b", result.stdout), result.stdout
    assert "warning" not in result.stdout.lower()


def test_without_the_configuration_the_failure_names_the_setting(tmp_path: Path) -> None:
    (example,) = blocks("python")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fresh'\n")
    (tmp_path / "test_agent.py").write_text(example)
    result = run_pytest(tmp_path, "-q")
    assert result.returncode != 0
    assert "asyncio_default_fixture_loop_scope" in result.stdout + result.stderr


STRICT_TEST = """
import pytest


@pytest.mark.asyncio
async def test_reply(llmrix_client):
    conversation = await llmrix_client.conversations.create("t")
    assert await llmrix_client.chat(conversation.id).complete_text("hi") == 'You said: "hi"'
"""


def test_strict_mode_with_the_marker(tmp_path: Path) -> None:
    ini = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    (tmp_path / "pytest.ini").write_text(ini)
    (tmp_path / "test_marked.py").write_text(STRICT_TEST)
    result = run_pytest(tmp_path, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout


UVLOOP_CONFTEST = """
import uvloop


def pytest_asyncio_loop_factories(config, item):
    return {"uvloop": uvloop.new_event_loop}
"""

UVLOOP_TEST = """
import asyncio

import uvloop


async def test_reply_on_uvloop(llmrix_client):
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
    conversation = await llmrix_client.conversations.create("t")
    assert await llmrix_client.chat(conversation.id).complete_text("hi") == 'You said: "hi"'
"""


def test_the_fixtures_run_on_uvloop(tmp_path: Path) -> None:
    (config,) = blocks("toml")
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / "conftest.py").write_text(UVLOOP_CONFTEST)
    (tmp_path / "test_uvloop.py").write_text(UVLOOP_TEST)
    result = run_pytest(tmp_path, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout
