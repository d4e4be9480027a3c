"""The blocking client: stream with a HITL decision inline, page, and run to completion.

Start a dev server with ``llmrix serve`` and run::

    LLMRIX_BASE_URL=http://127.0.0.1:8899 python examples/sync_client.py
"""

from llmrix import HitlDecision, HitlInterruptEvent, MessageChunkEvent, RunEndEvent
from llmrix.sync import LlmrixClient


def main() -> None:
    with LlmrixClient() as client:
        conversation = client.conversations.create("Sync client")
        with client.chat(conversation.id).stream("Clean up /hitl") as stream:
            for event in stream:
                if isinstance(event, MessageChunkEvent):
                    print(event.content, end="", flush=True)
                elif isinstance(event, HitlInterruptEvent):
                    print(f"[approval needed: {event.description}]")
                    stream.decide([HitlDecision.approve()])
                elif isinstance(event, RunEndEvent):
                    print(f"\n[run {event.run_id} finished]")
        titles = [conv.title for conv in client.conversations.iter(size=1)]
        print(f"iter(size=1) found {titles}")
        print("complete:", client.chat(conversation.id).complete_text("Summarise this"))


if __name__ == "__main__":
    main()
