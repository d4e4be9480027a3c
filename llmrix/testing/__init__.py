"""Testing your own agent code: scripted runs and record/replay cassettes.

* `Script` describes a run step by step (text, tool calls, sub-agents, approvals,
  errors, custom events, keep-alives, delays); ``DevServer.play(script)`` makes the
  dev server's next chat turn play it, over real HTTP and SSE.

See the testing guide in the docs.
"""

from ..devserver import Playback
from ._script import Script, Shape

__all__ = ["Playback", "Script", "Shape"]
