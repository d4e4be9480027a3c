"""Load the official ``llmrix-python-sdk`` beside ours, under another module name.

Both distributions use the import name ``llmrix``, so the official one is never
installed into the venv: it lives in ``.official-sdk/`` (``pip install --target``)
and is loaded here as ``llmrix_official``. Its modules import each other
relatively, so the alias holds for the whole package, and ``import llmrix``
still means this repository's SDK.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from benchmarks.corpus import official_sdk_dir, official_sdk_path

__all__ = [
    "MODULE_NAME",
    "OFFICIAL_REQUIREMENT",
    "OfficialParser",
    "OfficialSDKMissing",
    "install_official",
    "load_official_parser",
]

MODULE_NAME = "llmrix_official"
_IMPORTED_LATER = ("httpx", "httpcore", "h11", "certifi", "idna")
"""What httpx imports only when a client first connects: loaded while the path is set."""
OFFICIAL_REQUIREMENT = "llmrix-python-sdk==1.0.0"


class OfficialSDKMissing(RuntimeError):
    """The official SDK is not installed in ``.official-sdk`` (or failed to load)."""


class OfficialParser(NamedTuple):
    """The official SSE parser, its event dataclasses, and httpx's line splitter."""

    parse_sse: Callable[[Iterable[str]], Iterator[Any]]
    events: ModuleType
    iter_lines: Callable[[Iterable[bytes]], Iterator[str]]


def install_official(timeout: float = 120) -> Path:
    """``pip install --target .official-sdk`` the official SDK; returns the directory."""
    target = official_sdk_dir()
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--target",
        str(target),
        OFFICIAL_REQUIREMENT,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OfficialSDKMissing(f"could not install {OFFICIAL_REQUIREMENT}: {exc}") from exc
    path = official_sdk_path()
    if done.returncode != 0 or path is None:
        tail = (done.stderr or done.stdout).strip()[-500:]
        raise OfficialSDKMissing(f"pip install of {OFFICIAL_REQUIREMENT} failed: {tail}")
    return path


def _import_package(root: Path) -> ModuleType:
    package_dir = root / "llmrix"
    spec = importlib.util.spec_from_file_location(
        MODULE_NAME, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    if spec is None or spec.loader is None:
        raise OfficialSDKMissing(f"cannot load the official SDK from {package_dir}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    entry = str(root)
    added = entry not in sys.path
    if added:
        sys.path.append(entry)
    try:
        spec.loader.exec_module(module)
        for name in _IMPORTED_LATER:
            importlib.import_module(name)
    except Exception as exc:
        for name in [n for n in sys.modules if n == MODULE_NAME or n.startswith(MODULE_NAME + ".")]:
            del sys.modules[name]
        raise OfficialSDKMissing(f"importing the official SDK from {root} failed: {exc}") from exc
    finally:
        if added:
            sys.path.remove(entry)
    return module


def _httpx_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines exactly as ``httpx.Response.iter_lines()`` yields them for these body chunks."""
    import httpx

    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=iter(chunks)
    )
    try:
        yield from response.iter_lines()
    finally:
        response.close()


def load_official_parser() -> OfficialParser:
    """Import the official SDK from ``.official-sdk`` (once) and return its parser.

    Raises :class:`OfficialSDKMissing` when it is not installed there.
    """
    module = sys.modules.get(MODULE_NAME)
    if module is None:
        root = official_sdk_path()
        if root is None:
            raise OfficialSDKMissing(
                f"{OFFICIAL_REQUIREMENT} is not installed in {official_sdk_dir()}; run "
                f"`{sys.executable} -m pip install --target {official_sdk_dir()} "
                f"{OFFICIAL_REQUIREMENT}`"
            )
        module = _import_package(root)
    parser = importlib.import_module(f"{MODULE_NAME}.streaming.parser")
    events = importlib.import_module(f"{MODULE_NAME}.streaming.events")
    return OfficialParser(parser.parse_sse, events, _httpx_lines)
