"""The dependency floors in pyproject.toml are the versions CI tests them at."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _version(text: str) -> tuple[int, ...]:
    parts = [int(part) for part in text.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def declared_floors() -> dict[str, tuple[int, ...]]:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = pyproject.split("\ndependencies = [", 1)[1].split("]", 1)[0]
    return {
        name: _version(version)
        for name, version in re.findall(r'"([A-Za-z0-9_.-]+)>=([\d.]+)', block)
    }


def floors_ci_installs() -> dict[str, tuple[int, ...]]:
    constraints = (ROOT / ".ci" / "min-constraints.txt").read_text(encoding="utf-8")
    return {
        name: _version(version)
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==([\d.]+)$", constraints, re.M)
    }


def test_every_declared_floor_is_the_version_ci_tests() -> None:
    declared = declared_floors()
    assert set(declared) == {"aiohttp", "msgspec", "yarl", "async-timeout"}
    assert floors_ci_installs() == declared


def test_ci_runs_the_suite_at_the_floors() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "-c .ci/min-constraints.txt" in script
