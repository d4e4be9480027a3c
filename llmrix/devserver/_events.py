"""Builders for SSE event payloads in the primary and the TypeScript shapes."""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]

HEARTBEAT: Event = {"channel": "heartbeat", "type": ""}


def run_start(run_id: str, thread_id: str) -> Event:
    """``lifecycle/run_start``."""
    return {"channel": "lifecycle", "type": "run_start", "run_id": run_id, "thread_id": thread_id}


def custom(kind: str, run_id: str, topic: str) -> Event:
    """An event type of the user's own, on the ``custom`` channel (``/custom TYPE``)."""
    return {"channel": "custom", "type": kind, "run_id": run_id, "detail": topic}


def run_end(run_id: str, thread_id: str) -> Event:
    """``lifecycle/run_end``."""
    return {"channel": "lifecycle", "type": "run_end", "run_id": run_id, "thread_id": thread_id}


def message_chunk(content: str, message_id: str, run_id: str, ts: bool) -> Event:
    """``messages/message_chunk``; TypeScript servers send ``run_id`` instead of ``id``."""
    key, value = ("run_id", run_id) if ts else ("id", message_id)
    return {"channel": "messages", "type": "message_chunk", "content": content, key: value}


def tool_start(call_id: str, name: str, args: dict[str, Any], ts: bool) -> Event:
    """``tools/tool_start``."""
    if ts:
        return {
            "channel": "tools",
            "type": "tool_start",
            "tool_call_id": call_id,
            "name": name,
            "input": args,
            "parent_ids": [],
        }
    return {"channel": "tools", "type": "tool_start", "id": call_id, "name": name, "args": args}


def tool_end(call_id: str, name: str, result: str, ts: bool, *, error: bool = False) -> Event:
    """``tools/tool_end``; ``error`` marks a failed call (primary shape only)."""
    if ts:
        return {
            "channel": "tools",
            "type": "tool_end",
            "tool_call_id": call_id,
            "name": name,
            "output": result,
            "parent_ids": [],
        }
    return {
        "channel": "tools",
        "type": "tool_end",
        "id": call_id,
        "name": name,
        "result": result,
        "error": error,
    }


def subagent_start(call_id: str, name: str, task: str, ts: bool) -> Event:
    """``tools/subagent_start``."""
    if ts:
        return {
            "channel": "tools",
            "type": "subagent_start",
            "tool_call_id": call_id,
            "name": name,
            "input": {"task": task},
            "parent_ids": [],
        }
    return {"channel": "tools", "type": "subagent_start", "id": call_id, "agent_name": name}


def subagent_end(call_id: str, name: str, output: str, ts: bool, *, error: bool = False) -> Event:
    """``tools/subagent_end``; ``error`` marks a failed sub-agent (primary shape only)."""
    if ts:
        return {
            "channel": "tools",
            "type": "subagent_end",
            "tool_call_id": call_id,
            "name": name,
            "output": output,
            "parent_ids": [],
        }
    return {
        "channel": "tools",
        "type": "subagent_end",
        "id": call_id,
        "agent_name": name,
        "error": error,
    }


def hitl_interrupt(
    interrupt_id: str, action: str, actions: list[dict[str, Any]], ts: bool
) -> Event:
    """``hitl/hitl_interrupt`` asking about one call of ``action`` per item of ``actions``.

    The TypeScript shape lists them all in ``action_requests``; the primary shape has room
    for exactly one, so ``actions`` must then hold one call.
    """
    descriptions = [f'Run {action} on "{args["target"]}"' for args in actions]
    if ts:
        requests = [
            {
                "name": action,
                "args": args,
                "description": description,
                "decisions": ["approve", "reject", "modify"],
            }
            for args, description in zip(actions, descriptions, strict=True)
        ]
        return {"channel": "hitl", "type": "hitl_interrupt", "action_requests": requests}
    if len(actions) != 1:
        raise ValueError("the primary interrupt shape names exactly one action")
    (description,) = descriptions
    return {
        "channel": "hitl",
        "type": "hitl_interrupt",
        "id": interrupt_id,
        "action_name": action,
        "action_args": actions[0],
        "description": description,
    }


def error(message: str, error_code: str) -> Event:
    """``error/error`` (terminal)."""
    return {"channel": "error", "type": "error", "message": message, "error_code": error_code}


def cancelled(reason: str, ts: bool) -> Event:
    """``error/cancelled`` (terminal); TypeScript servers use ``message``."""
    return {"channel": "error", "type": "cancelled", "message" if ts else "reason": reason}


def rubric_start(iteration: int, grading_run_id: str) -> Event:
    """``rubric/rubric_evaluation_start`` (TypeScript servers only)."""
    return {
        "channel": "rubric",
        "type": "rubric_evaluation_start",
        "iteration": iteration,
        "grading_run_id": grading_run_id,
    }


def rubric_end(iteration: int, result: str, explanation: str) -> Event:
    """``rubric/rubric_evaluation_end`` (TypeScript servers only)."""
    return {
        "channel": "rubric",
        "type": "rubric_evaluation_end",
        "iteration": iteration,
        "result": result,
        "explanation": explanation,
    }


def plan_interrupt(
    interrupt_id: str, action: str, args: dict[str, Any], description: str, ts: bool
) -> Event:
    """``hitl/hitl_interrupt`` for one action with the given arguments and description."""
    if ts:
        request = {
            "name": action,
            "args": args,
            "description": description,
            "decisions": ["approve", "reject", "modify"],
        }
        return {"channel": "hitl", "type": "hitl_interrupt", "action_requests": [request]}
    return {
        "channel": "hitl",
        "type": "hitl_interrupt",
        "id": interrupt_id,
        "action_name": action,
        "action_args": args,
        "description": description,
    }
