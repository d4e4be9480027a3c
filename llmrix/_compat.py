"""What differs between the supported Python versions."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from asyncio import timeout as deadline
else:  # aiohttp depends on async-timeout on Python 3.10
    from async_timeout import timeout as deadline

__all__ = ["deadline"]
