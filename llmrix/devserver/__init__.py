"""Embedded llmrix dev server: the Open API v1 wire protocol with a scripted agent.

``async with DevServer() as server:`` serves every route of PROTOCOL.md under
``server.base_url + "/api/open/v1"`` from an in-memory store. ``serve()`` runs one in the
foreground until Ctrl-C. ``server.requests`` logs every request as received.

Chat commands (case-sensitive, anywhere in the message; steps run in message order):

* ``/tool NAME`` -- ``tool_start`` / ``tool_end`` before the reply.
* ``/subagent NAME`` -- ``subagent_start`` / ``subagent_end``.
* ``/hitl`` -- a ``hitl_interrupt`` for ``dangerous_action``; the stream stays open
  (with keep-alives) until ``/chat/hitl/decide``. If the client leaves, the run stays
  paused: ``decide`` then completes it without a stream, or a chat request carrying
  ``hitl_decisions`` resumes it on a new stream (no second ``run_start``).
* ``/slow`` -- a long reply with ``slow_delay`` seconds between words.
* ``/error`` -- a terminal ``error`` event (``error_code`` ``agent_failure``).
* ``/long N`` -- N message chunks, batched into large writes.
* ``/ts`` -- the TypeScript event shapes, plus rubric events before ``run_end``.
* ``/heartbeats`` -- all four keep-alive forms inline (and again after the first chunk).

``server.play(script)`` makes the next chat turn play a script instead (see
``llmrix.testing.Script``; ``conversation_id=`` for one conversation's next turn).

``ReplayServer(cassette)`` serves a recorded session instead (see ``llmrix.testing``).

A plain message gets ``You said: "<message>"`` streamed one word per chunk.

Fault options (constructor keywords, ``server.faults``, or per request through the
``X-Llmrix-Dev-Faults`` header or ``?faults=`` query, e.g. ``"crlf, cut_after=3"``):
``crlf``, ``byte_per_write``, ``cut_after=N``, ``malformed_after=N``, ``stall_after=N``
and ``end_at_interrupt``; see ``FaultOptions``.

Keep-alives are sent after ``heartbeat_interval`` seconds without output, alternating a
``: ping`` comment and an ``event: heartbeat`` frame.
"""

from ._app import RecordedRequest
from ._cassette import CassetteMismatch
from ._options import FaultOptions
from ._plan import Playback
from ._replay import ReplayServer
from ._server import DevServer, serve

__all__ = [
    "CassetteMismatch",
    "DevServer",
    "FaultOptions",
    "Playback",
    "RecordedRequest",
    "ReplayServer",
    "serve",
]
