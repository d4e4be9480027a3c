"""In-memory store for conversations, messages, cron tasks and agents.

Ordering and cursors:

* Conversations are listed newest first by ``seq``, a server-wide counter fixed at
  creation. The next page holds the items whose ``seq`` is below ``lastId``.
* Messages are listed oldest first by ``seq``, a per-conversation counter starting at 1.
  The next page holds the items whose ``seq`` is above ``lastId``.

``lastId=0`` (or no ``lastId``) asks for the first page in both cases.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import msgspec

from ._models import (
    Agent,
    Conversation,
    CreateAgentBody,
    CreateCronBody,
    CronTask,
    Mate,
    Message,
    Page,
    Role,
    ToolCall,
    UpdateAgentBody,
    UpdateConversationBody,
    UpdateCronBody,
)

_DEFAULT_NEXT_RUN_DELAY = 60.0


def now_iso() -> str:
    """Return the current UTC time as an ISO-8601 string."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """Return a fresh random hex identifier."""
    return uuid.uuid4().hex


@dataclass
class _Thread:
    conversation: Conversation
    messages: list[Message] = field(default_factory=list)
    next_seq: int = 1


@dataclass
class _AgentRecord:
    agent: Agent
    mates: list[Mate] = field(default_factory=list)


def _next_run(task: CronTask, now: float) -> float | None:
    if task.status == "paused":
        return None
    if task.schedule_type == "interval":
        try:
            seconds = float(task.schedule_expr.rstrip("s"))
        except ValueError:
            seconds = _DEFAULT_NEXT_RUN_DELAY
        return now + max(seconds, 1.0)
    return now + _DEFAULT_NEXT_RUN_DELAY


class Store:
    """Holds every object the dev server knows about; not thread-safe (one event loop)."""

    def __init__(self) -> None:
        self._threads: dict[str, _Thread] = {}
        self._conversation_seq = 0
        self._tasks: dict[str, CronTask] = {}
        self._agents: dict[int, _AgentRecord] = {}
        self._agent_seq = 0

    def create_conversation(
        self, title: str | None, agent_id: str | None = None, *, id: str | None = None
    ) -> Conversation:
        """Create a conversation; ``id`` may be forced (useful to seed odd ids in tests)."""
        self._conversation_seq += 1
        stamp = now_iso()
        conversation = Conversation(
            id=id if id is not None else new_id(),
            title=title,
            seq=self._conversation_seq,
            agent_id=agent_id,
            created_at=stamp,
            updated_at=stamp,
        )
        self._threads[conversation.id] = _Thread(conversation)
        return conversation

    def get_conversation(self, conversation_id: str) -> Conversation | None:
        """Return the conversation or ``None``."""
        thread = self._threads.get(conversation_id)
        return thread.conversation if thread is not None else None

    def update_conversation(
        self, conversation_id: str, body: UpdateConversationBody
    ) -> Conversation | None:
        """Apply a partial update; return ``None`` for an unknown id."""
        conversation = self.get_conversation(conversation_id)
        if conversation is None:
            return None
        if not isinstance(body.title, msgspec.UnsetType):
            conversation.title = body.title
        if not isinstance(body.agent_id, msgspec.UnsetType):
            conversation.agent_id = body.agent_id
        conversation.updated_at = now_iso()
        return conversation

    def delete_conversation(self, conversation_id: str) -> bool:
        """Delete a conversation and its messages; report whether it existed."""
        return self._threads.pop(conversation_id, None) is not None

    def touch(self, conversation_id: str) -> None:
        """Mark a conversation as updated now."""
        thread = self._threads.get(conversation_id)
        if thread is not None:
            thread.conversation.updated_at = now_iso()

    def list_conversations(self, last_id: int, size: int) -> Page:
        """Newest first; the next page holds the items with ``seq < last_id``."""
        ordered = sorted(
            (t.conversation for t in self._threads.values()), key=lambda c: c.seq, reverse=True
        )
        if last_id > 0:
            ordered = [c for c in ordered if c.seq < last_id]
        return Page(items=ordered[:size], has_more=len(ordered) > size)

    def add_message(
        self,
        conversation_id: str,
        role: Role,
        content: str | None,
        tool_calls: list[ToolCall] | None = None,
        *,
        id: str | None = None,
    ) -> Message | None:
        """Append a message to a conversation (ignored if it was deleted meanwhile)."""
        thread = self._threads.get(conversation_id)
        if thread is None:
            return None
        message = Message(
            seq=thread.next_seq,
            id=id if id is not None else new_id(),
            role=role,
            content=content,
            tool_calls=tool_calls,
        )
        thread.next_seq += 1
        thread.messages.append(message)
        thread.conversation.updated_at = now_iso()
        return message

    def list_messages(self, conversation_id: str, last_id: int, size: int) -> Page | None:
        """Oldest first; the next page holds the items with ``seq > last_id``."""
        thread = self._threads.get(conversation_id)
        if thread is None:
            return None
        ordered = [m for m in thread.messages if m.seq > last_id]
        return Page(items=ordered[:size], has_more=len(ordered) > size)

    def list_tasks(self) -> list[CronTask]:
        """All cron tasks, oldest first."""
        return list(self._tasks.values())

    def create_task(self, body: CreateCronBody) -> CronTask:
        """Create an active cron task."""
        now = time.time()
        task = CronTask(
            id=new_id(),
            name=body.name,
            prompt=body.prompt,
            schedule_type=body.schedule_type,
            schedule_expr=body.schedule_expr,
            status="active",
            thread_id=None,
            user_id="dev",
            channel=body.channel,
            last_run=None,
            last_run_error=None,
            last_run_output=None,
            next_run=None,
            created_at=now,
            updated_at=now,
        )
        task.next_run = _next_run(task, now)
        self._tasks[task.id] = task
        return task

    def get_task(self, task_id: str) -> CronTask | None:
        """Return the task or ``None``."""
        return self._tasks.get(task_id)

    def update_task(self, task_id: str, body: UpdateCronBody) -> CronTask | None:
        """Apply the fields present in ``body``."""
        task = self._tasks.get(task_id)
        if task is None:
            return None
        for name in body.__struct_fields__:
            value = getattr(body, name)
            if not isinstance(value, msgspec.UnsetType):
                setattr(task, name, value)
        now = time.time()
        task.updated_at = now
        task.next_run = _next_run(task, now)
        return task

    def set_task_status(self, task_id: str, status: str) -> CronTask | None:
        """Pause or resume a task."""
        task = self._tasks.get(task_id)
        if task is None:
            return None
        now = time.time()
        task.status = status
        task.updated_at = now
        task.next_run = _next_run(task, now)
        return task

    def delete_task(self, task_id: str) -> bool:
        """Delete a task; report whether it existed."""
        return self._tasks.pop(task_id, None) is not None

    def list_agents(self) -> list[Agent]:
        """All agents by id."""
        return [record.agent for record in self._agents.values()]

    def create_agent(self, body: CreateAgentBody) -> Agent:
        """Create an agent with the next integer id."""
        self._agent_seq += 1
        fields: dict[str, Any] = msgspec.structs.asdict(body)
        agent = Agent(id=self._agent_seq, **fields)
        self._agents[agent.id] = _AgentRecord(agent)
        return agent

    def get_agent(self, agent_id: int) -> Agent | None:
        """Return the agent or ``None``."""
        record = self._agents.get(agent_id)
        return record.agent if record is not None else None

    def update_agent(self, agent_id: int, body: UpdateAgentBody) -> Agent | None:
        """Apply the fields present in ``body``."""
        record = self._agents.get(agent_id)
        if record is None:
            return None
        for name in body.__struct_fields__:
            value = getattr(body, name)
            if not isinstance(value, msgspec.UnsetType):
                setattr(record.agent, name, value)
        return record.agent

    def delete_agent(self, agent_id: int) -> bool:
        """Delete an agent; report whether it existed."""
        return self._agents.pop(agent_id, None) is not None

    def get_mates(self, agent_id: int) -> list[Mate] | None:
        """The agent's mates ordered by ``sort``, or ``None`` for an unknown agent."""
        record = self._agents.get(agent_id)
        return record.mates if record is not None else None

    def replace_mates(self, agent_id: int, mates: list[Mate]) -> list[Mate] | None:
        """Replace the agent's mates."""
        record = self._agents.get(agent_id)
        if record is None:
            return None
        record.mates = sorted(mates, key=lambda m: m.sort)
        return record.mates
