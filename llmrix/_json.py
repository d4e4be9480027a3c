"""JSON text from other languages' encoders: lone UTF-16 surrogate escapes.

A JavaScript server that cuts a string between the two halves of an emoji
emits a lone surrogate escape such as ``"\\ud83d"``. That is valid JSON, but
msgspec refuses it. `replace_lone_surrogates` rewrites each lone surrogate
escape to ``\\ufffd`` (U+FFFD REPLACEMENT CHARACTER), the character a UTF-8
encoder puts in its place, so the text stays encodable; escaped pairs stay.
"""

from __future__ import annotations

import re

__all__ = ["replace_lone_surrogates"]

_SURROGATE_ESCAPE = re.compile(
    rb"(?<!\\)((?:\\\\)*)"  # an even run of backslashes: the next one starts an escape
    rb"\\u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"  # high (+ low)
    rb"|(?<!\\)((?:\\\\)*)\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a low one alone
)


def _fix(match: re.Match[bytes]) -> bytes:
    if match.group(2) is not None:
        if match.group(3) is not None:
            return match.group(0)
        return match.group(1) + rb"\ufffd"
    return match.group(4) + rb"\ufffd"


def replace_lone_surrogates(data: bytes) -> bytes | None:
    """``data`` with lone surrogate escapes replaced, or None if it has none."""
    if b"\\u" not in data and b"\\U" not in data:
        return None
    fixed = _SURROGATE_ESCAPE.sub(_fix, data)
    return None if fixed == data else fixed
