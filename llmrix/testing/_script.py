"""``Script``: a run described step by step, played by the dev server (``server.play``)."""

from __future__ import annotations

import copy
import math
from typing import Any, Literal

import msgspec

__all__ = ["Script", "Shape"]

Shape = Literal["primary", "typescript"]
"""The wire shape of the events: the primary one, or the TypeScript servers' variant."""


def _json_value(what: str, value: Any) -> Any:
    try:
        msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"{what} must be JSON-serialisable: {exc}") from None
    return copy.deepcopy(value)


def _name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _args(value: dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"args must be a dict, got {type(value).__name__}")
    return dict(_json_value("args", value))


class Script:
    """A scripted agent run; each method returns a new script with one more step.

    ``Script().text("Hello").tool("search", args={"q": "cats"}, result="3 hits")``
    plays ``run_start``, a message chunk, ``tool_start``/``tool_end`` and
    ``run_end``. ``shape="typescript"`` sends the TypeScript servers' event shapes.
    Hand it to ``DevServer.play`` (the ``llmrix_server`` fixture).
    """

    __slots__ = ("_shape", "_steps")

    def __init__(self, *, shape: Shape = "primary") -> None:
        if shape not in ("primary", "typescript"):
            raise ValueError(f"shape must be 'primary' or 'typescript', got {shape!r}")
        self._shape: Shape = shape
        self._steps: tuple[dict[str, Any], ...] = ()

    @property
    def shape(self) -> Shape:
        """The wire shape the run is played in."""
        return self._shape

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The steps as plain data (a copy)."""
        return copy.deepcopy(list(self._steps))

    def __repr__(self) -> str:
        kinds = ", ".join(step["kind"] for step in self._steps)
        return f"Script(shape={self._shape!r}, steps=[{kinds}])"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Script):
            return NotImplemented
        return (self._shape, self._steps) == (other._shape, other._steps)

    def __hash__(self) -> int:
        return hash((self._shape, msgspec.json.encode(self._steps)))

    def _with(self, step: dict[str, Any]) -> Script:
        if self._steps and self._steps[-1]["kind"] == "error":
            raise ValueError("error() ends the run: no step can follow it")
        script = Script(shape=self._shape)
        script._steps = (*self._steps, step)
        return script

    def text(self, *chunks: str) -> Script:
        """The assistant's text, one ``message_chunk`` per argument."""
        if not chunks:
            raise ValueError("text() needs at least one chunk")
        for chunk in chunks:
            if not isinstance(chunk, str):
                raise TypeError(f"text chunks must be strings, got {type(chunk).__name__}")
        return self._with({"kind": "text", "chunks": list(chunks)})

    def tool(
        self,
        name: str,
        *,
        args: dict[str, Any] | None = None,
        result: Any = "",
        error: bool = False,
        id: str | None = None,
    ) -> Script:
        """A tool call: ``tool_start`` with ``args``, then ``tool_end`` with ``result``.

        ``error=True`` marks the call failed. A ``modify`` decision at an earlier
        interrupt replaces ``args`` with its ``modified_args``.
        """
        step = {
            "kind": "tool",
            "name": _name("tool name", name),
            "args": _args(args),
            "result": _json_value("result", result),
            "error": bool(error),
        }
        return self._with(step if id is None else {**step, "id": _name("id", id)})

    def subagent(
        self,
        name: str,
        steps: Script | None = None,
        *,
        result: Any = "",
        error: bool = False,
        id: str | None = None,
    ) -> Script:
        """A sub-agent: ``subagent_start``, the ``steps`` it performs, ``subagent_end``."""
        nested = steps.steps if steps is not None else []
        if steps is not None and not isinstance(steps, Script):
            raise TypeError(f"steps must be a Script, got {type(steps).__name__}")
        step = {
            "kind": "subagent",
            "name": _name("sub-agent name", name),
            "steps": nested,
            "result": _json_value("result", result),
            "error": bool(error),
        }
        return self._with(step if id is None else {**step, "id": _name("id", id)})

    def interrupt(
        self,
        action: str,
        *,
        args: dict[str, Any] | None = None,
        description: str = "",
        on_reject: Script | None = None,
        id: str | None = None,
    ) -> Script:
        """A ``hitl_interrupt`` asking to approve ``action``; the run waits for a decision.

        After an approval (or a ``modify``) the steps that follow run; after a
        rejection ``on_reject`` runs instead (or nothing: the run ends).
        """
        if on_reject is not None and not isinstance(on_reject, Script):
            raise TypeError(f"on_reject must be a Script, got {type(on_reject).__name__}")
        if not isinstance(description, str):
            raise TypeError("description must be a string")
        step = {
            "kind": "interrupt",
            "action": _name("action", action),
            "args": _args(args),
            "description": description,
            "on_reject": on_reject.steps if on_reject is not None else None,
        }
        return self._with(step if id is None else {**step, "id": _name("id", id)})

    def error(self, message: str, *, code: str = "") -> Script:
        """A terminal ``error`` event; nothing can follow it."""
        if not isinstance(message, str) or not isinstance(code, str):
            raise TypeError("error() takes a string message and a string code")
        return self._with({"kind": "error", "message": message, "code": code})

    def custom(self, type: str, **fields: Any) -> Script:
        """An event of your own: ``{"channel": "custom", "type": type, **fields}``.

        Pass ``channel=`` among the fields for another channel. Register the event
        class on the client (``register_event``) to receive it typed.
        """
        step = {
            "kind": "custom",
            "type": _name("event type", type),
            "fields": _json_value("fields", fields),
        }
        return self._with(step)

    def keepalive(self) -> Script:
        """Every keep-alive form the protocol knows, back to back (the SDK drops them)."""
        return self._with({"kind": "keepalive"})

    def delay(self, seconds: float) -> Script:
        """Pause the run; a ``stop()`` meanwhile ends it with ``cancelled`` right there."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError("seconds must be a number")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be finite and not negative, got {seconds!r}")
        return self._with({"kind": "delay", "seconds": float(seconds)})

    def as_plan(self) -> dict[str, Any]:
        """The script as the dev server's plain-data plan."""
        return {"shape": self._shape, "steps": self.steps}
