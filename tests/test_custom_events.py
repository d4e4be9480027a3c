"""Custom event types: registered per client, decoded on the fast route, from the dev server."""

from __future__ import annotations

from typing import Literal

import pytest

from llmrix import Event, LlmrixClient, MessageChunkEvent, RunEndEvent, UnknownEvent
from llmrix.devserver import DevServer


class AuditEvent(Event, tag="audit_log"):
    """What the dev server's ``/custom`` command sends."""

    channel: Literal["custom"] = "custom"
    run_id: str = ""
    detail: str = ""


async def kinds(client: LlmrixClient, message: str) -> list[object]:
    conversation = await client.conversations.create("custom")
    async with client.chat(conversation.id).stream(message) as stream:
        return [event async for event in stream]


async def test_registered_events_are_yielded_typed_and_scoped_to_the_client(
    llmrix_server: DevServer,
) -> None:
    async with LlmrixClient(llmrix_server.base_url) as client:
        plain = client.with_options(timeout=30)
        before = await kinds(client, "check /custom")
        assert [type(e) for e in before if not isinstance(e, MessageChunkEvent)][1:3] == [
            UnknownEvent,
            RunEndEvent,
        ]
        client.register_event(AuditEvent)
        derived = client.with_options(timeout=20)
        for each in (client, derived, plain):
            events = await kinds(each, "check the logs /custom")
            audits = [e for e in events if isinstance(e, AuditEvent)]
            assert len(audits) == 1
            assert audits[0].detail == "check the logs"
            assert audits[0].run_id.startswith("run_")
        async with LlmrixClient(llmrix_server.base_url) as other:
            events = await kinds(other, "check /custom")
            assert not any(isinstance(e, AuditEvent) for e in events)
            assert any(isinstance(e, UnknownEvent) and e.type == "audit_log" for e in events)


async def test_a_clashing_or_foreign_type_is_refused(llmrix_server: DevServer) -> None:
    class Clash(Event, tag="run_end"):
        pass

    async with LlmrixClient(llmrix_server.base_url) as client:
        with pytest.raises(ValueError, match="run_end"):
            client.register_event(Clash)
        with pytest.raises(TypeError, match="Event subclass"):
            client.register_event(dict)  # type: ignore[arg-type]
        assert await kinds(client, "still fine") != []
