"""``client.cron``: scheduled prompts."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, overload

from msgspec import UNSET, UnsetType

from ..models import CronCreateRequest, CronTask, CronUpdateRequest, ScheduleType, TaskList
from ._base import Resource, request_body

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import RequestOptions


class Cron(Resource):
    """``/cron/tasks`` endpoints."""

    async def list(self, **options: Unpack[RequestOptions]) -> builtins.list[CronTask]:
        """All cron tasks."""
        answer = await self._transport.request("GET", ("cron", "tasks"), TaskList, call=options)
        return answer.tasks or []

    @overload
    async def create(
        self, request: CronCreateRequest, /, **options: Unpack[RequestOptions]
    ) -> CronTask: ...

    @overload
    async def create(
        self,
        name: str,
        *,
        prompt: str,
        schedule_expr: str,
        schedule_type: ScheduleType = "cron",
        channel: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> CronTask: ...

    async def create(
        self,
        name: str | CronCreateRequest,
        *,
        prompt: str | UnsetType = UNSET,
        schedule_expr: str | UnsetType = UNSET,
        schedule_type: ScheduleType | UnsetType = UNSET,
        channel: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> CronTask:
        """Create a task: a name with ``prompt`` and ``schedule_expr``, or a full request.

        ``schedule_type`` is ``"cron"`` (the default, always sent) or ``"interval"``.
        """
        request = name if isinstance(name, CronCreateRequest) else None
        body = request_body(
            CronCreateRequest,
            request,
            name=UNSET if request is not None else name,
            prompt=prompt,
            schedule_expr=schedule_expr,
            schedule_type=schedule_type,
            channel=UNSET if channel is None else channel,
        )
        return await self._transport.request(
            "POST", ("cron", "tasks"), CronTask, body=body, call=options
        )

    async def get(self, task_id: str, **options: Unpack[RequestOptions]) -> CronTask:
        """One task."""
        return await self._transport.request(
            "GET", ("cron", "tasks", task_id), CronTask, call=options
        )

    async def update(
        self,
        task_id: str,
        request: CronUpdateRequest | None = None,
        *,
        name: str | UnsetType = UNSET,
        prompt: str | UnsetType = UNSET,
        schedule_expr: str | UnsetType = UNSET,
        schedule_type: ScheduleType | UnsetType = UNSET,
        channel: str | UnsetType = UNSET,
        **options: Unpack[RequestOptions],
    ) -> CronTask:
        """Change a task; only the fields given are sent."""
        body = request_body(
            CronUpdateRequest,
            request,
            name=name,
            prompt=prompt,
            schedule_expr=schedule_expr,
            schedule_type=schedule_type,
            channel=channel,
        )
        return await self._transport.request(
            "PUT", ("cron", "tasks", task_id), CronTask, body=body, call=options
        )

    async def pause(self, task_id: str, **options: Unpack[RequestOptions]) -> CronTask:
        """Pause a task."""
        return await self._transport.request(
            "POST", ("cron", "tasks", task_id, "pause"), CronTask, body={}, call=options
        )

    async def resume(self, task_id: str, **options: Unpack[RequestOptions]) -> CronTask:
        """Resume a paused task."""
        return await self._transport.request(
            "POST", ("cron", "tasks", task_id, "resume"), CronTask, body={}, call=options
        )

    async def delete(self, task_id: str, **options: Unpack[RequestOptions]) -> None:
        """Delete a task."""
        await self._transport.request("DELETE", ("cron", "tasks", task_id), call=options)
