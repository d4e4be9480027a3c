"""Sync methods declared in one line each, typed from the async method they wrap.

``create: Final = blocking(twin(aio.Conversations).create)`` gives the sync class a
``create`` whose parameters are exactly those of the async method (a ``ParamSpec``
carries them, so mypy, pyright and editors see the real signature) and whose result
is the awaited value. The async method runs on the portal's loop: nothing of the
request, decoding or retry logic is repeated here, and a parameter added to the
async method reaches the sync one without an edit.

``Final`` makes the inferred type the declared one: in a ``py.typed`` package an
unannotated class attribute counts as ambiguous (``pyright --verifytypes``: "could be
inferred differently"), while a final one has exactly the type of its value. It
says what is true anyway: the method is never rebound.

Alternatives weighed: a ``__getattr__`` proxy is smallest but opaque to type
checkers; Protocols or ``.pyi`` stubs type it but restate every signature, a
second copy to keep in step; sync classes generated at import time are invisible
to type checkers. One typed line per method keeps both the code and the types
derived from the async resource.

`twin` returns the class itself but is typed as an instance, so ``.create`` has the
*bound* signature (mypy cannot strip ``self`` from a method taking ``**kwargs``
through ``Concatenate``); the descriptors use only its ``__name__`` and look the
method up on the wrapped object when called.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Generic, ParamSpec, TypeVar, cast, overload

from ._bridge import SyncIterator
from ._portal import Portal

A = TypeVar("A")
P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")
W = TypeVar("W", bound="Wrapper[Any, Any]")


def twin(cls: type[A]) -> A:
    """``cls`` itself, typed as an instance: ``twin(C).m`` names ``C.m`` with its bound type."""
    return cast(A, cls)


class Bound(Generic[A]):
    """A sync view of one async object, whose calls run on ``portal``."""

    def __init__(self, portal: Portal, target: A) -> None:
        self._portal = portal
        self._target = target

    def __repr__(self) -> str:
        return f"<sync {self._target!r}>"


class Wrapper(Generic[P, R]):
    """Base of the descriptors: turn the target's method ``name`` into a sync callable."""

    def __init__(self, method: Callable[P, Any]) -> None:
        self._method = method
        self._name: str = method.__name__
        self.__doc__ = method.__doc__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._method.__qualname__}>"

    @overload
    def __get__(self: W, owner: None, kind: type) -> W: ...

    @overload
    def __get__(self, owner: Bound[Any], kind: type | None = None) -> Callable[P, R]: ...

    def __get__(
        self, owner: Bound[Any] | None, kind: type | None = None
    ) -> Wrapper[P, R] | Callable[P, R]:
        if owner is None:
            return self
        method, portal = getattr(owner._target, self._name), owner._portal

        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return self.invoke(portal, method, args, kwargs)

        return call

    def invoke(self, portal: Portal, method: Any, args: Any, kwargs: Any) -> R:
        """Call the async ``method`` from the caller's thread; returns the sync result."""
        raise NotImplementedError


class blocking(Wrapper[P, T]):
    """A coroutine method made blocking: the call waits for the loop's result."""

    def __init__(self, method: Callable[P, Awaitable[T]]) -> None:
        super().__init__(method)

    def invoke(
        self, portal: Portal, method: Callable[..., Awaitable[T]], args: Any, kwargs: Any
    ) -> T:
        """Run the coroutine on the portal's loop and wait for its result."""
        return portal.run(_call(method, args, kwargs))


async def _call(method: Callable[..., Awaitable[T]], args: Any, kwargs: Any) -> T:
    return await method(*args, **kwargs)


class iterating(Wrapper[P, Iterator[T]]):
    """A method returning an async iterator made to return a blocking iterator."""

    def __init__(self, method: Callable[P, AsyncIterator[T]]) -> None:
        super().__init__(method)

    def invoke(
        self, portal: Portal, method: Callable[..., AsyncIterator[T]], args: Any, kwargs: Any
    ) -> Iterator[T]:
        """A blocking iterator over the async iterator, read on the portal's loop."""
        return SyncIterator(portal, method(*args, **kwargs))
