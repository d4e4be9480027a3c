"""Errors for misspelt keyword arguments that name the closest valid one."""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["checked_keywords", "unknown_names_error"]


def unknown_names_error(kind: str, unknown: Iterable[str], valid: Iterable[str]) -> TypeError:
    """A ``TypeError`` listing each unknown name, with ``did you mean ...?`` when close."""
    choices = sorted(valid)
    parts = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
        parts.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    return TypeError(f"unknown {kind}: {', '.join(parts)}")


def checked_keywords(kind: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a function refuse an unknown keyword argument with a did-you-mean hint."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        valid = frozenset(
            name
            for name, parameter in inspect.signature(function).parameters.items()
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        )

        @functools.wraps(function)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            if not valid.issuperset(kwargs):
                raise unknown_names_error(kind, set(kwargs) - valid, valid)
            return function(*args, **kwargs)

        return checked

    return decorate
