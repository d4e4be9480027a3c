"""Create a conversation and stream the reply, printing the text as it arrives.

Start a dev server with ``llmrix serve`` and run::

    LLMRIX_BASE_URL=http://127.0.0.1:8899 python examples/quickstart.py
"""

import asyncio

from llmrix import LlmrixClient, MessageChunkEvent, RunEndEvent, ToolEndEvent, ToolStartEvent


async def main() -> None:
    async with LlmrixClient() as client:
        conversation = await client.conversations.create("Quick start")
        print(f"conversation {conversation.id}")
        chat = client.chat(conversation.id)
        async with chat.stream("Find cat pictures /tool web_search") as stream:
            async for event in stream:
                match event:
                    case MessageChunkEvent(content=text):
                        print(text, end="", flush=True)
                    case ToolStartEvent(name=name, arguments=args):
                        print(f"[tool {name} started with {args}]")
                    case ToolEndEvent(name=name, result=result):
                        print(f"[tool {name} returned {result!r}]")
                    case RunEndEvent(run_id=run_id):
                        print(f"\n[run {run_id} finished]")


if __name__ == "__main__":
    asyncio.run(main())
