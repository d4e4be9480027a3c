"""Create conversations and messages, then walk them with the paginating iterators.

``conversations.iter()`` and ``conversations.iter_messages()`` follow the ``seq``
cursor page after page; ``size`` is the page size.
"""

import asyncio

from llmrix import LlmrixClient

CONVERSATIONS = 5
TURNS = 3


async def main() -> None:
    async with LlmrixClient() as client:
        created = [
            await client.conversations.create(f"Paging demo {number}")
            for number in range(1, CONVERSATIONS + 1)
        ]
        chat = client.chat(created[0].id)
        for turn in range(1, TURNS + 1):
            await chat.complete(f"message {turn}")

        page = await client.conversations.list(size=2)
        print(f"first page: {len(page.items)} conversations, has_more={page.has_more}")

        ours = {conversation.id for conversation in created}
        titles = [
            conversation.title
            async for conversation in client.conversations.iter(size=2)
            if conversation.id in ours
        ]
        print(f"iter(size=2) found {len(titles)} of ours: {', '.join(map(str, titles))}")

        count = 0
        async for message in client.conversations.iter_messages(created[0].id, size=2):
            count += 1
            print(f"  {message.role:>9}: {message.content}")
        print(f"iter_messages(size=2) yielded {count} messages")


if __name__ == "__main__":
    asyncio.run(main())
