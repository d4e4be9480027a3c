"""Approval ids: ``<interrupt id>:<position>/<count>``, so an answer names its place."""

from __future__ import annotations

import re

__all__ = ["approval_id", "parse_approval_id"]

_PLACE = re.compile(r"([0-9]+)/([0-9]+)")


def approval_id(interrupt_id: str, index: int, count: int) -> str:
    """The id of action ``index`` (0-based) of ``count`` in interrupt ``interrupt_id``."""
    return f"{interrupt_id}:{index + 1}/{count}"


def parse_approval_id(value: object) -> tuple[str, int, int]:
    """``(interrupt id, 0-based index, count)`` of an approval id; ValueError if it is not one."""
    if not isinstance(value, str):
        raise ValueError(f"an approval id must be a string, got {type(value).__name__}")
    interrupt_id, colon, place = value.rpartition(":")
    match = _PLACE.fullmatch(place)
    if colon and match is not None:
        index, count = int(match[1]) - 1, int(match[2])
        if 0 <= index < count:
            return interrupt_id, index, count
    raise ValueError(f"{value!r} is not an approval id this relay sent (<interrupt>:<n>/<count>)")
