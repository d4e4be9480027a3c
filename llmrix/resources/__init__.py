"""One module per API area; each only declares paths and types."""

from .agents import Agents
from .chat import Chat
from .conversations import Conversations
from .cron import Cron

__all__ = ["Agents", "Chat", "Conversations", "Cron"]
