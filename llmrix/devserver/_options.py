"""Stream variants and fault-injection options applied to chat streams."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Literal

FAULT_HEADER = "X-Llmrix-Dev-Faults"
FAULT_QUERY = "faults"


@dataclass(frozen=True)
class FaultOptions:
    """Ways to bend or damage a chat stream on purpose; event counts exclude keep-alives.

    * ``crlf``: end every line with CRLF instead of LF.
    * ``cr``: end every line with a lone CR instead of LF.
    * ``bom``: start the stream with a UTF-8 byte order mark.
    * ``multiline_data``: spread each event's JSON over several ``data:`` lines, one
      member per line (joined with LF by the client, it is the same JSON).
    * ``sse_ids``: give every frame an ``id:`` field (1, 2, ...) and the first one a
      ``retry:`` field.
    * ``no_event_line``: leave out the ``event:`` line; the JSON's ``channel`` is enough.
    * ``byte_per_write``: write the stream one byte per write, yielding after each.
    * ``cut_after``: abort the TCP connection once N events were sent (no terminal event).
    * ``malformed_after``: after N events, send one frame whose data is broken JSON.
    * ``stall_after``: after N events, write nothing (not even keep-alives) until the
      client goes away or the server stops.
    * ``end_at_interrupt``: end the stream right after a ``hitl_interrupt`` instead of
      keeping it open; the client resumes with a chat request carrying ``hitl_decisions``.
    """

    crlf: bool = False
    cr: bool = False
    bom: bool = False
    multiline_data: bool = False
    sse_ids: bool = False
    no_event_line: bool = False
    byte_per_write: bool = False
    cut_after: int | None = None
    malformed_after: int | None = None
    stall_after: int | None = None
    end_at_interrupt: bool = False

    def __post_init__(self) -> None:
        if self.crlf and self.cr:
            raise ValueError("choose one line end: crlf or cr")

    def merged(self, spec: str) -> FaultOptions:
        """Return a copy overridden by a spec such as ``"crlf, cut_after=3"``.

        Raises ``ValueError`` for an unknown name or a bad value.
        """
        flags = {f.name for f in fields(self) if isinstance(getattr(self, f.name), bool)}
        counts = {f.name for f in fields(self)} - flags
        changes: dict[str, bool | int | None] = {}
        for item in spec.split(","):
            name, sep, value = (part.strip() for part in item.partition("="))
            if not name:
                continue
            if name in flags:
                changes[name] = not sep or value.lower() in ("1", "true", "yes", "on")
            elif name in counts:
                changes[name] = _count(name, value)
            else:
                raise ValueError(f"unknown fault option {name!r}")
        return replace(self, **changes)  # type: ignore[arg-type]


def _count(name: str, value: str) -> int | None:
    if value.lower() in ("", "none", "off"):
        return None
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if count < 0:
        raise ValueError(f"{name} must not be negative")
    return count


AuthMode = Literal["key", "forbidden", "unconfigured"]


@dataclass
class Settings:
    """Server behaviour that tests may change while the server runs.

    ``auth_mode``: ``"key"`` checks ``api_key`` when one is set (401 on a mismatch);
    ``"forbidden"`` answers every request 403; ``"unconfigured"`` answers every request
    503, as deployments do when authentication is not configured.
    ``string_seq``: conversations and messages carry their ``seq`` cursor as a string.
    """

    api_key: str | None = None
    auth_mode: AuthMode = "key"
    string_seq: bool = False
    heartbeat_interval: float = 15.0
    slow_delay: float = 0.05
    agents_enabled: bool = True
    faults: FaultOptions = field(default_factory=FaultOptions)
