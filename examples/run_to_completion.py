"""Run turns to the end without writing a loop, then with a callback.

``chat.complete()`` and ``stream.until_done()`` return the whole run as a ``RunSnapshot``
(text, tool calls, status); ``chat.complete_text()`` and ``stream.final_text()`` its text;
``chat.send(message, handler)`` calls the handler (sync or async) for every event.
"""

import asyncio
from collections import Counter

from llmrix import LlmrixClient, StreamEvent


async def main() -> None:
    async with LlmrixClient() as client:
        conversation = await client.conversations.create("Complete")
        chat = client.chat(conversation.id)

        text = await chat.complete_text("Summarise this")
        print(f"complete: {text}")

        async with chat.stream("Look it up /tool web_search") as stream:
            run = await stream.until_done()
        print(f"final_text of run {run.run_id}: {run.text}")
        for call in run.tool_calls:
            print(f"tool {call.name}({call.arguments}) -> {call.result!r}")

        seen: Counter[str] = Counter()

        async def handler(event: StreamEvent) -> None:
            seen[event.type] += 1

        await chat.send("Ask the team /subagent researcher", handler)
        print("send: " + ", ".join(f"{kind} x{count}" for kind, count in seen.items()))


if __name__ == "__main__":
    asyncio.run(main())
