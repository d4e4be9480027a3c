"""What every resource shares: the transport, request bodies, and cursor pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from msgspec import UNSET

from .._transport import Transport
from ..errors import APIResponseValidationError
from ..models import Cursor, PageResult


class _Sequenced(Protocol):
    @property
    def seq(self) -> Cursor: ...


S = TypeVar("S", bound=_Sequenced)
B = TypeVar("B")


def refuse_mixing(request: object, **fields: object) -> None:
    """Raise ``TypeError`` if fields are given next to a ready-made request object."""
    given = sorted(
        name for name, value in fields.items() if value is not None and value is not UNSET
    )
    if request is not None and given:
        raise TypeError(f"pass a request object or fields, not both (got {', '.join(given)})")


def request_body(kind: type[B], request: B | None, **fields: Any) -> B:
    """``request`` (a ``kind``) as it is, else a ``kind`` built from the fields given.

    Fields left `UNSET` are not passed, so the request's defaults apply.
    """
    if request is not None:
        if not isinstance(request, kind):
            raise TypeError(f"expected a {kind.__name__}, got {type(request).__name__}")
        refuse_mixing(request, **fields)
        return request
    return kind(**{name: value for name, value in fields.items() if value is not UNSET})


class Resource:
    """A group of endpoints bound to the client's transport.

    Every method takes the per-call options of `RequestOptions`
    (``extra_headers``, ``extra_query``, ``extra_body``, ``timeout``) as
    keyword arguments; they apply to that call only. The id of the item a
    call is about comes first; a write also accepts a ready-made request
    object in place of its keyword fields.
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport


async def paginate(fetch: Callable[[Cursor], Awaitable[PageResult[S]]]) -> AsyncIterator[S]:
    """Yield every item, following the ``seq`` cursor until ``has_more`` is false."""
    cursor: Cursor = 0
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if not page.has_more or not page.items:
            return
        following = page.items[-1].seq
        if following == cursor:
            raise APIResponseValidationError(f"pagination cursor did not advance past {cursor!r}")
        cursor = following
