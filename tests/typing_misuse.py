"""Calls a type checker must refuse: each line marked ``# error`` is one (see test_typing.py)."""

from __future__ import annotations

from llmrix import UNSET, ChatRequest, CronCreateRequest, LlmrixClient, RunSnapshot


async def misuse(client: LlmrixClient) -> None:
    chat = client.chat("c")
    snapshot: RunSnapshot = await chat.complete("hi", model="m", extra_headers={"a": "b"})
    text: str = await chat.complete_text(ChatRequest(message="hi"), timeout=3)
    await chat.complete("hi", modle="m")  # error
    await chat.send("hi", print, extra_header={})  # error
    await client.cron.create("n", prompt="p")  # error
    await client.cron.create("n", prompt="p", schedule_expr="1", schedule_type="weekly")  # error
    request = CronCreateRequest(name="n", prompt="p", schedule_expr="1")
    await client.cron.create(request, channel="w")  # error
    await client.cron.create("n", prompt="p", schedule_expr="1", channel=None)
    await client.conversations.update("c", agent_id=None)
    await client.conversations.update("c", title=None)  # error
    await client.conversations.get("c", timeout="soon")  # error
    await client.agents.update(1, name=UNSET, extra_query={"x": "y"})
    print(snapshot.tool_calls, text)
