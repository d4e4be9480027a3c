"""Stream variants and fault-injection options applied to chat streams."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

FAULT_HEADER = "X-Llmrix-Dev-Faults"
FAULT_QUERY = "faults"


@dataclass(frozen=True)
class FaultOptions:
    """Ways to bend or damage a chat stream on purpose; event counts exclude keep-alives.

    * ``crlf``: end every line with CRLF instead of LF.
    * ``byte_per_write``: write the stream one byte per write, yielding after each.
    * ``cut_after``: abort the TCP connection once N events were sent (no terminal event).
    * ``malformed_after``: after N events, send one frame whose data is broken JSON.
    * ``stall_after``: after N events, write nothing (not even keep-alives) until the
      client goes away or the server stops.
    * ``end_at_interrupt``: end the stream right after a ``hitl_interrupt`` instead of
      keeping it open; the client resumes with a chat request carrying ``hitl_decisions``.
    """

    crlf: bool = False
    byte_per_write: bool = False
    cut_after: int | None = None
    malformed_after: int | None = None
    stall_after: int | None = None
    end_at_interrupt: bool = False

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


@dataclass
class Settings:
    """Server behaviour that tests may change while the server runs."""

    api_key: str | None = None
    heartbeat_interval: float = 15.0
    slow_delay: float = 0.05
    agents_enabled: bool = True
    faults: FaultOptions = field(default_factory=FaultOptions)
