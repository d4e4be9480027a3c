"""Read a run as a value: the snapshot, and the batch loop for throughput.

``stream.snapshot`` is the run as read so far (text, tool calls paired with their
results, sub-agents, interrupt, status); ``async for events in stream.batches()``
hands out the events of each read as one list, the fastest way through a long run.
"""

import asyncio

from llmrix import LlmrixClient


async def main() -> None:
    async with LlmrixClient() as client:
        conversation = await client.conversations.create("Snapshot")
        chat = client.chat(conversation.id)

        async with chat.stream("Research this /tool web_search /subagent critic") as stream:
            async for events in stream.batches():
                print(f"read {len(events)} events, status {stream.snapshot.status}")
            run = stream.snapshot
        print(f"run {run.run_id} {run.status}: {run.text}")
        for call in run.tool_calls:
            print(f"tool {call.name} {call.arguments} -> {call.result!r} (error: {call.is_error})")
        for agent in run.subagents:
            print(f"subagent {agent.name} done: {agent.done}")

        async with chat.stream("/long 5000", keep_text=False) as stream:
            count = sum([len(events) async for events in stream.batches()])
        print(f"long run: {count} events, status {stream.snapshot.status}, no text kept")


if __name__ == "__main__":
    asyncio.run(main())
