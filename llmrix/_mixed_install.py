"""Refuse to run from a package directory shared with the official ``llmrix-python-sdk``.

Both distributions install the import name ``llmrix``; installed into one
environment, their files overwrite each other and neither works (typically
``ImportError: cannot import name 'AgentEnvelope' from 'llmrix.models'``, because
the official ``models/`` package shadows ``models.py``). Importing this module
checks, with a few ``os.path.exists`` calls, for files only the official SDK
ships, and raises an ``ImportError`` that says what happened and what to run.
"""

from __future__ import annotations

import os
import shlex
import sys

OFFICIAL_DISTRIBUTION = "llmrix-python-sdk"
OFFICIAL_ONLY_FILES = (
    "_http.py",
    "_exceptions.py",
    os.path.join("models", "__init__.py"),
    os.path.join("streaming", "__init__.py"),
)
"""Files of llmrix-python-sdk 1.0.0 that this package does not have (checked by name)."""


def check(package_dir: str) -> None:
    """Raise ``ImportError`` if ``package_dir`` holds files of the official SDK."""
    found = [
        name for name in OFFICIAL_ONLY_FILES if os.path.exists(os.path.join(package_dir, name))
    ]
    if found:
        raise ImportError(mixed_install_message(package_dir, found), name="llmrix")


def mixed_install_message(package_dir: str, found: list[str]) -> str:
    """What happened, and the commands that repair the environment."""
    python = shlex.quote(sys.executable)
    return (
        f"cannot import llmrix: {package_dir} mixes two distributions that both install the "
        f"package 'llmrix': llmrix (this SDK) and the official {OFFICIAL_DISTRIBUTION} "
        f"(its files found: {', '.join(found)}). They overwrite each other's files, so "
        "neither works; llmrix replaces the official SDK, it cannot sit beside it. "
        "Repair this environment with:\n"
        f"    {python} -m pip uninstall -y {OFFICIAL_DISTRIBUTION} llmrix\n"
        f"    {python} -m pip install llmrix\n"
        "(from a checkout of llmrix: pip install . in it). To keep the official SDK "
        "instead, uninstall both and install only it. Migration guide: "
        "'Coming from llmrix-python-sdk' in the llmrix docs."
    )


check(os.path.dirname(os.path.abspath(__file__)))
