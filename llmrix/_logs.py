"""The ``llmrix`` logger, and ``LLMRIX_LOG`` to turn its output on."""

from __future__ import annotations

import logging
import os

__all__ = ["log", "setup_from_env"]

log = logging.getLogger("llmrix")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}
_configured = False


def setup_from_env() -> None:
    """With ``LLMRIX_LOG=debug`` or ``info``, print the ``llmrix`` logger to stderr (once)."""
    global _configured
    level = _LEVELS.get(os.environ.get("LLMRIX_LOG", "").strip().lower())
    if level is None or _configured:
        return
    _configured = True
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s %(name)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
