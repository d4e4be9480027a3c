"""Stop a run from inside the loop; the loop then receives a ``CancelledEvent``.

The dev server's agent answers slowly, word by word, when a message contains ``/slow``.
"""

import asyncio

from llmrix import CancelledEvent, LlmrixClient, MessageChunkEvent

STOP_AFTER = 3


async def main() -> None:
    async with LlmrixClient() as client:
        conversation = await client.conversations.create("Stop")
        chunks = 0
        received: list[str] = []
        async with client.chat(conversation.id).stream("Tell me a long story /slow") as stream:
            async for event in stream:
                match event:
                    case MessageChunkEvent(content=text):
                        print(text, end="", flush=True)
                        received.append(text)
                        chunks += 1
                        if chunks == STOP_AFTER:
                            await stream.stop()
                    case CancelledEvent():
                        print(f"\n[cancelled] {event.reason or event.message}")
        print(f"received {chunks} chunks before the run stopped: {''.join(received)!r}")


if __name__ == "__main__":
    asyncio.run(main())
