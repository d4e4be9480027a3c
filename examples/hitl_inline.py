"""Answer a human-in-the-loop interrupt from inside the event loop.

The dev server's agent pauses for approval when a message contains ``/hitl``.
The first turn approves the action, the second rejects it.
"""

import asyncio

from llmrix import (
    HitlDecision,
    HitlInterruptEvent,
    LlmrixClient,
    MessageChunkEvent,
    ToolEndEvent,
)


async def main() -> None:
    async with LlmrixClient() as client:
        conversation = await client.conversations.create("HITL")
        chat = client.chat(conversation.id)
        for decision in (HitlDecision.approve(), HitlDecision.reject("too risky")):
            async with chat.stream("Delete old backups /hitl") as stream:
                async for event in stream:
                    match event:
                        case HitlInterruptEvent(action_name=name, action_args=args):
                            print(f"[approval needed] {event.description} {name}{args}")
                            print(f"[decision] {decision.decision}")
                            await stream.decide([decision])
                        case ToolEndEvent(name=name, result=result):
                            print(f"[tool {name} returned {result!r}]")
                        case MessageChunkEvent(content=text):
                            print(text, end="", flush=True)
            print()


if __name__ == "__main__":
    asyncio.run(main())
