"""The aiohttp application: middlewares and every route under ``/api/open/v1``."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from . import _events as ev
from ._agent import NullIO, ScriptedAgent
from ._models import (
    ChatBody,
    Conversation,
    CreateAgentBody,
    CreateConversationBody,
    CreateCronBody,
    DecideBody,
    EmptyBody,
    HitlDecision,
    MatesBody,
    Page,
    UpdateAgentBody,
    UpdateConversationBody,
    UpdateCronBody,
)
from ._options import FAULT_HEADER, FAULT_QUERY, FaultOptions, Settings
from ._plan import PlanAgent, PlanQueue
from ._run import Run, RunRegistry, RunStopped, ServerClosing, StreamCut, StreamDetached
from ._script import Script, parse_script
from ._sse import SSE_HEADERS, SseStream
from ._store import Store, new_id

PREFIX = "/api/open/v1"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

_T = TypeVar("_T")


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it."""

    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Look a header up case-insensitively."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """Decode the body as JSON."""
        return msgspec.json.decode(self.body)


class ApiError(Exception):
    """An error answered as ``{"message": ...}`` with the given status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(value), status=status, content_type="application/json"
    )


def _empty(status: int = 200) -> web.Response:
    return web.Response(status=status)


async def _decode(request: web.Request, model: type[_T], *, allow_empty: bool = False) -> _T:
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            raw = b"{}"
        else:
            raise ApiError(400, "request body is empty; a JSON object is required")
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as exc:
        raise ApiError(422, f"invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None


STRING_SEQ_PREFIX = "seq-"


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, "")
    if name == "lastId":
        raw = raw.removeprefix(STRING_SEQ_PREFIX)
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, f"query parameter {name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ApiError(422, f"query parameter {name} must be between {low} and {high}")
    return value


def _cursor(request: web.Request) -> tuple[int, int]:
    last_id = _int_query(request, "lastId", 0, 0, 2**63 - 1)
    size = _int_query(request, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return last_id, size


class DevApi:
    """Route handlers bound to one store, run registry and request log."""

    def __init__(self, settings: Settings, store: Store, requests: list[RecordedRequest]) -> None:
        self.settings = settings
        self.store = store
        self.runs = RunRegistry()
        self.requests = requests
        self.agent = ScriptedAgent(store, settings)
        self.plans = PlanQueue()
        self.plan_agent = PlanAgent(store)

    def build(self) -> web.Application:
        """Create the aiohttp application."""
        app = web.Application(middlewares=[self._record, self._errors, self._auth])
        p = PREFIX
        conv = f"{p}/conversations/{{id}}"
        task = f"{p}/cron/tasks/{{id}}"
        agent = f"{p}/agent/{{id}}"
        app.add_routes(
            [
                web.post(f"{p}/conversations", self.create_conversation),
                web.get(f"{p}/conversations", self.list_conversations),
                web.get(conv, self.get_conversation),
                web.patch(conv, self.update_conversation),
                web.delete(conv, self.delete_conversation),
                web.get(f"{conv}/messages", self.list_messages),
                web.post(f"{conv}/chat", self.chat),
                web.post(f"{conv}/chat/stop", self.stop),
                web.post(f"{conv}/chat/hitl/decide", self.decide),
                web.get(f"{p}/cron/tasks", self.list_tasks),
                web.post(f"{p}/cron/tasks", self.create_task),
                web.get(task, self.get_task),
                web.put(task, self.update_task),
                web.delete(task, self.delete_task),
                web.post(f"{task}/pause", self.pause_task),
                web.post(f"{task}/resume", self.resume_task),
                web.get(f"{p}/agent", self.list_agents),
                web.post(f"{p}/agent", self.create_agent),
                web.get(agent, self.get_agent),
                web.patch(agent, self.update_agent),
                web.delete(agent, self.delete_agent),
                web.get(f"{agent}/mates", self.get_mates),
                web.post(f"{agent}/mates", self.replace_mates),
            ]
        )
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        headers = {str(key): value for key, value in request.headers.items()}
        self.requests.append(RecordedRequest(request.method, request.raw_path, headers, body))
        return await handler(request)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return _json({"message": exc.message}, exc.status)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            message = f"{exc.reason}: {request.method} {request.path}"
            response = _json({"message": message}, exc.status)
            response.headers.update(headers or {})
            return response

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        mode = self.settings.auth_mode
        if mode == "forbidden":
            raise ApiError(403, "this API key may not use the Open API")
        if mode == "unconfigured":
            raise ApiError(503, "authentication is not configured on this server")
        key = self.settings.api_key
        if key is not None and request.headers.get("Authorization") != f"Bearer {key}":
            raise ApiError(401, "missing or invalid API key")
        return await handler(request)

    def _conversation_id(self, request: web.Request) -> str:
        conversation_id = request.match_info["id"]
        if self.store.get_conversation(conversation_id) is None:
            raise ApiError(404, f"conversation {conversation_id!r} not found")
        return conversation_id

    def _with_seq(self, value: Conversation | Page | None) -> web.Response:
        """Answer a conversation or a page, with ``seq`` as ``"seq-N"`` in string-seq mode."""
        if not self.settings.string_seq or value is None:
            return _json(value)
        data = msgspec.to_builtins(value)
        for item in data.get("items", [data]):
            item["seq"] = f"{STRING_SEQ_PREFIX}{item['seq']}"
        return _json(data)

    async def create_conversation(self, request: web.Request) -> web.StreamResponse:
        """``POST /conversations``."""
        body = await _decode(request, CreateConversationBody)
        return self._with_seq(self.store.create_conversation(body.title, body.agent_id))

    async def list_conversations(self, request: web.Request) -> web.StreamResponse:
        """``GET /conversations``: newest first, next page below ``lastId``."""
        last_id, size = _cursor(request)
        return self._with_seq(self.store.list_conversations(last_id, size))

    async def get_conversation(self, request: web.Request) -> web.StreamResponse:
        """``GET /conversations/{id}``."""
        return self._with_seq(self.store.get_conversation(self._conversation_id(request)))

    async def update_conversation(self, request: web.Request) -> web.StreamResponse:
        """``PATCH /conversations/{id}``."""
        conversation_id = self._conversation_id(request)
        body = await _decode(request, UpdateConversationBody)
        return self._with_seq(self.store.update_conversation(conversation_id, body))

    async def delete_conversation(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /conversations/{id}`` (answers 204)."""
        conversation_id = self._conversation_id(request)
        self.runs.stop(conversation_id)
        self.store.delete_conversation(conversation_id)
        return _empty(204)

    async def list_messages(self, request: web.Request) -> web.StreamResponse:
        """``GET /conversations/{id}/messages``: oldest first, next page above ``lastId``."""
        conversation_id = self._conversation_id(request)
        last_id, size = _cursor(request)
        return self._with_seq(self.store.list_messages(conversation_id, last_id, size))

    def _faults(self, request: web.Request) -> FaultOptions:
        faults = self.settings.faults
        for spec in (request.headers.get(FAULT_HEADER), request.query.get(FAULT_QUERY)):
            if spec:
                try:
                    faults = faults.merged(spec)
                except ValueError as exc:
                    raise ApiError(400, f"bad fault options: {exc}") from None
        return faults

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """``POST /conversations/{id}/chat``: stream one run as SSE."""
        conversation_id = self._conversation_id(request)
        body = await _decode(request, ChatBody)
        faults = self._faults(request)
        if body.hitl_decisions is not None:
            if not body.hitl_decisions:
                raise ApiError(422, "hitl_decisions must not be empty")
            parked = self.runs.parked(conversation_id)
            if parked is None:
                raise ApiError(409, "no paused run to resume in this conversation")
            self._decide(parked, body.hitl_decisions)
            run = parked
            self.runs.unpark(conversation_id)
        else:
            self.runs.unpark(conversation_id)
            run = self._new_run(conversation_id, body.message)
        self.store.touch(conversation_id)
        response = web.StreamResponse(headers=SSE_HEADERS)
        self.runs.attach(run)
        try:
            await response.prepare(request)
            stream = SseStream(request, response, run, faults, self.settings.heartbeat_interval)
            await self._drive(run, stream)
        except (StreamCut, ConnectionError):
            pass
        finally:
            self.runs.detach(run)
        return response

    def _new_run(self, conversation_id: str, message: str) -> Run:
        """A run playing the next queued plan of the conversation, else the message's commands."""
        run_id = f"run_{new_id()[:12]}"
        plan = self.plans.take(conversation_id)
        if plan is None:
            return Run(run_id, conversation_id, parse_script(message))
        run = Run(run_id, conversation_id, Script(text=message, topic=message, ts=plan.ts))
        run.plan = plan
        return run

    async def _play(self, run: Run, io: NullIO | SseStream) -> None:
        if run.plan is not None:
            await self.plan_agent.play(run, io, run.script.text)
        else:
            await self.agent.play(run, io)

    async def _drive(self, run: Run, stream: SseStream) -> None:
        try:
            await self._play(run, stream)
        except RunStopped:
            cancelled = ev.cancelled("stopped by user", run.script.ts)
            await stream.send(cancelled)
            if run.plan is not None:
                run.plan.playback.events.append(cancelled)
                run.plan.playback.finished = True
        except (ServerClosing, StreamDetached):
            pass
        await stream.finish()

    async def stop(self, request: web.Request) -> web.StreamResponse:
        """``POST /conversations/{id}/chat/stop``: safe when nothing runs."""
        conversation_id = self._conversation_id(request)
        await _decode(request, EmptyBody, allow_empty=True)
        for run in self.runs.stop(conversation_id):
            if run.plan is not None:
                run.plan.playback.stops += 1
        return _empty()

    async def decide(self, request: web.Request) -> web.StreamResponse:
        """``POST /conversations/{id}/chat/hitl/decide``."""
        conversation_id = self._conversation_id(request)
        body = await _decode(request, DecideBody)
        if not body.decisions:
            raise ApiError(422, "decisions must not be empty")
        live = self.runs.waiting(conversation_id)
        if live is not None:
            self._decide(live, body.decisions)
            return _empty()
        parked = self.runs.parked(conversation_id)
        if parked is None:
            raise ApiError(409, "no run in this conversation is waiting for a decision")
        self._decide(parked, body.decisions)
        self.runs.unpark(conversation_id)
        try:
            await self._play(parked, NullIO(parked))
        except StreamDetached:
            self.runs.park(parked)
        return _empty()

    @staticmethod
    def _decide(run: Run, decisions: list[HitlDecision]) -> None:
        try:
            run.decide(decisions)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        if run.plan is not None:
            run.plan.playback.record(decisions)

    def _task_id(self, request: web.Request) -> str:
        task_id = request.match_info["id"]
        if self.store.get_task(task_id) is None:
            raise ApiError(404, f"cron task {task_id!r} not found")
        return task_id

    async def list_tasks(self, request: web.Request) -> web.StreamResponse:
        """``GET /cron/tasks``."""
        return _json({"tasks": self.store.list_tasks()})

    async def create_task(self, request: web.Request) -> web.StreamResponse:
        """``POST /cron/tasks``."""
        body = await _decode(request, CreateCronBody)
        return _json(self.store.create_task(body))

    async def get_task(self, request: web.Request) -> web.StreamResponse:
        """``GET /cron/tasks/{id}``."""
        return _json(self.store.get_task(self._task_id(request)))

    async def update_task(self, request: web.Request) -> web.StreamResponse:
        """``PUT /cron/tasks/{id}``."""
        task_id = self._task_id(request)
        body = await _decode(request, UpdateCronBody)
        return _json(self.store.update_task(task_id, body))

    async def pause_task(self, request: web.Request) -> web.StreamResponse:
        """``POST /cron/tasks/{id}/pause``."""
        task_id = self._task_id(request)
        await _decode(request, EmptyBody, allow_empty=True)
        return _json(self.store.set_task_status(task_id, "paused"))

    async def resume_task(self, request: web.Request) -> web.StreamResponse:
        """``POST /cron/tasks/{id}/resume``."""
        task_id = self._task_id(request)
        await _decode(request, EmptyBody, allow_empty=True)
        return _json(self.store.set_task_status(task_id, "active"))

    async def delete_task(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /cron/tasks/{id}`` (answers 204)."""
        self.store.delete_task(self._task_id(request))
        return _empty(204)

    def _agent_id(self, request: web.Request) -> int:
        if not self.settings.agents_enabled:
            raise ApiError(503, "agents are not available on this deployment")
        if "id" not in request.match_info:
            return 0
        raw = request.match_info["id"]
        agent_id = int(raw) if raw.isdigit() else -1
        if self.store.get_agent(agent_id) is None:
            raise ApiError(404, f"agent {raw!r} not found")
        return agent_id

    async def list_agents(self, request: web.Request) -> web.StreamResponse:
        """``GET /agent``."""
        self._agent_id(request)
        return _json({"agents": self.store.list_agents()})

    async def create_agent(self, request: web.Request) -> web.StreamResponse:
        """``POST /agent``."""
        self._agent_id(request)
        body = await _decode(request, CreateAgentBody)
        return _json({"agent": self.store.create_agent(body)})

    async def get_agent(self, request: web.Request) -> web.StreamResponse:
        """``GET /agent/{id}``."""
        return _json({"agent": self.store.get_agent(self._agent_id(request))})

    async def update_agent(self, request: web.Request) -> web.StreamResponse:
        """``PATCH /agent/{id}``."""
        agent_id = self._agent_id(request)
        body = await _decode(request, UpdateAgentBody)
        return _json({"agent": self.store.update_agent(agent_id, body)})

    async def delete_agent(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /agent/{id}`` (answers 204)."""
        self.store.delete_agent(self._agent_id(request))
        return _empty(204)

    async def get_mates(self, request: web.Request) -> web.StreamResponse:
        """``GET /agent/{id}/mates``."""
        return _json({"mates": self.store.get_mates(self._agent_id(request))})

    async def replace_mates(self, request: web.Request) -> web.StreamResponse:
        """``POST /agent/{id}/mates``."""
        agent_id = self._agent_id(request)
        body = await _decode(request, MatesBody)
        return _json({"mates": self.store.replace_mates(agent_id, body.mates)})

    def close_streams(self) -> None:
        """Ask every open chat stream to end (server shutdown)."""
        self.runs.close_all()

    async def wait_streams(self, timeout: float) -> None:
        """Wait until no chat stream is open, at most ``timeout`` seconds."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.runs.idle.wait(), timeout)
