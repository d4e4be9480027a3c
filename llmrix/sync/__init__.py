"""Blocking client: ``from llmrix.sync import LlmrixClient``.

The same constructor arguments, resources and names as the async client, driven
from one private event-loop thread per client (see ``llmrix.sync._portal`` for why)::

    with LlmrixClient("http://localhost:8899") as client:
        conversation = client.conversations.create("Demo")
        with client.chat(conversation.id).stream("hi") as stream:
            for event in stream:
                ...
"""

from .. import _mixed_install  # noqa: F401 - also when the official SDK's __init__ won
from ._client import LlmrixClient
from ._resources import Agents, Chat, Conversations, Cron, EventHandler
from ._stream import ChatStream

__all__ = ["Agents", "Chat", "ChatStream", "Conversations", "Cron", "EventHandler", "LlmrixClient"]
