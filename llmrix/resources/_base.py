"""What every resource shares: the transport, and cursor pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

from .._transport import Transport
from ..errors import APIResponseValidationError
from ..models import Cursor, PageResult


class _Sequenced(Protocol):
    @property
    def seq(self) -> Cursor: ...


S = TypeVar("S", bound=_Sequenced)


def refuse_mixing(request: object, **fields: object) -> None:
    """Raise ``TypeError`` if fields are given next to a ready-made request object."""
    given = sorted(name for name, value in fields.items() if value is not None)
    if request is not None and given:
        raise TypeError(f"pass a request object or fields, not both (got {', '.join(given)})")


class Resource:
    """A group of endpoints bound to the client's transport."""

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
