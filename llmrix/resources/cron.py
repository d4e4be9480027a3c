"""``client.cron``: scheduled prompts."""

from __future__ import annotations

import builtins

from ..models import CronCreateRequest, CronTask, CronUpdateRequest, TaskList
from ._base import Resource, refuse_mixing


class Cron(Resource):
    """``/cron/tasks`` endpoints."""

    async def list(self) -> builtins.list[CronTask]:
        """All cron tasks."""
        answer = await self._transport.request("GET", ("cron", "tasks"), TaskList)
        return answer.tasks or []

    async def create(
        self,
        name: str | CronCreateRequest,
        prompt: str | None = None,
        schedule_expr: str | None = None,
        *,
        schedule_type: str | None = None,
        channel: str | None = None,
    ) -> CronTask:
        """Create a task (pass the fields, or a full request).

        ``schedule_type`` is ``"cron"`` (the default) or ``"interval"``.
        """
        if isinstance(name, CronCreateRequest):
            refuse_mixing(
                name,
                prompt=prompt,
                schedule_expr=schedule_expr,
                schedule_type=schedule_type,
                channel=channel,
            )
            body = name
        elif prompt is None or schedule_expr is None:
            raise TypeError("cron.create() needs name, prompt and schedule_expr")
        else:
            body = CronCreateRequest(
                name=name,
                prompt=prompt,
                schedule_expr=schedule_expr,
                schedule_type=schedule_type or "cron",
                channel=channel,
            )
        return await self._transport.request("POST", ("cron", "tasks"), CronTask, body=body)

    async def get(self, task_id: str) -> CronTask:
        """One task."""
        return await self._transport.request("GET", ("cron", "tasks", task_id), CronTask)

    async def update(
        self,
        task_id: str,
        request: CronUpdateRequest | None = None,
        *,
        name: str | None = None,
        prompt: str | None = None,
        schedule_expr: str | None = None,
        schedule_type: str | None = None,
        channel: str | None = None,
    ) -> CronTask:
        """Change a task; fields left ``None`` are not sent."""
        refuse_mixing(
            request,
            name=name,
            prompt=prompt,
            schedule_expr=schedule_expr,
            schedule_type=schedule_type,
            channel=channel,
        )
        body = request or CronUpdateRequest(
            name=name,
            prompt=prompt,
            schedule_expr=schedule_expr,
            schedule_type=schedule_type,
            channel=channel,
        )
        return await self._transport.request("PUT", ("cron", "tasks", task_id), CronTask, body=body)

    async def pause(self, task_id: str) -> CronTask:
        """Pause a task."""
        return await self._transport.request(
            "POST", ("cron", "tasks", task_id, "pause"), CronTask, body={}
        )

    async def resume(self, task_id: str) -> CronTask:
        """Resume a paused task."""
        return await self._transport.request(
            "POST", ("cron", "tasks", task_id, "resume"), CronTask, body={}
        )

    async def delete(self, task_id: str) -> None:
        """Delete a task."""
        await self._transport.request("DELETE", ("cron", "tasks", task_id))
