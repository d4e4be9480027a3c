"""Testing your own agent code: scripted runs and record/replay cassettes.

* `Script` describes a run step by step (text, tool calls, sub-agents, approvals,
  errors, custom events, keep-alives, delays); ``DevServer.play(script)`` makes the
  dev server's next chat turn play it, over real HTTP and SSE.
* `Recorder` is a loopback proxy that records a session with a real server as a
  cassette (JSONL); `ReplayServer` serves it back strictly; `use_cassette` does
  either for a block, on a thread of its own (for the sync client too).

See the testing guide in the docs.
"""

from ..devserver import CassetteMismatch, Playback, ReplayServer
from ..devserver._cassette import Cassette, CassetteFormatError, Exchange, Redact, load
from ._recorder import Recorder
from ._script import Script, Shape
from ._session import CassetteSession, RecordMode, use_cassette

__all__ = [
    "Cassette",
    "CassetteFormatError",
    "CassetteMismatch",
    "CassetteSession",
    "Exchange",
    "Playback",
    "RecordMode",
    "Recorder",
    "Redact",
    "ReplayServer",
    "Script",
    "Shape",
    "load",
    "use_cassette",
]
