"""What the SDK raises: an HTTP error, a failed run, and a stalled stream.

Every exception derives from ``llmrix.LlmrixError``. The dev server's agent fails
on purpose when a message contains ``/error``, and answers slowly for ``/slow``.
"""

import asyncio

from llmrix import (
    APITimeoutError,
    ErrorEvent,
    LlmrixClient,
    LlmrixError,
    NotFoundError,
    StreamError,
)


async def main() -> None:
    async with LlmrixClient(max_retries=0) as client:
        try:
            await client.conversations.get("no-such-conversation")
        except NotFoundError as exc:
            print(f"NotFoundError: HTTP {exc.status_code}: {exc.message}")

        conversation = await client.conversations.create("Errors")
        chat = client.chat(conversation.id)
        try:
            await chat.complete("Do the impossible /error")
        except StreamError as exc:
            code = exc.event.error_code if isinstance(exc.event, ErrorEvent) else None
            print(f"StreamError: {exc.message} (error_code={code})")

        try:
            async with chat.stream("Take your time /slow", stream_idle_timeout=0.01) as stream:
                async for _ in stream:
                    pass
        except APITimeoutError as exc:
            print(f"APITimeoutError: {exc}")
        except LlmrixError as exc:
            print(f"some other llmrix error: {exc!r}")


if __name__ == "__main__":
    asyncio.run(main())
