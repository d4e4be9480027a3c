"""The door to OpenTelemetry: whether a client emits spans and metrics, and through what.

The API (the ``llmrix[otel]`` extra) is imported here, lazily, only for a client
that may use it; without it, or with ``otel=False`` or ``LLMRIX_OTEL=off``, the
client holds no telemetry at all and pays nothing. What is emitted is built in
`llmrix._otel_turn`; every name is in `llmrix._otel_names`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._otel_names import ENV_CAPTURE, ENV_SWITCH

if TYPE_CHECKING:
    from yarl import URL

    from ._otel_turn import Telemetry

__all__ = ["telemetry_for"]

_OFF = frozenset({"off", "false", "0", "no", "none"})
_MISSING_API = (
    "tracer_provider/meter_provider need the OpenTelemetry API: pip install 'llmrix[otel]'"
)


def telemetry_for(
    base_url: URL,
    *,
    enabled: bool,
    tracer_provider: object | None,
    meter_provider: object | None,
    capture_content: bool | None,
) -> Telemetry | None:
    """The client's telemetry, or None when it is off or the API is not installed.

    Raises ``TypeError`` for a provider that is not one and ``ImportError`` when
    a provider is given but the API is missing.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"otel must be a bool, got {enabled!r}")
    if capture_content is not None and not isinstance(capture_content, bool):
        raise TypeError(f"otel_capture_content must be a bool or None, got {capture_content!r}")
    _check_provider("tracer_provider", tracer_provider, "get_tracer")
    _check_provider("meter_provider", meter_provider, "get_meter")
    if not enabled or os.environ.get(ENV_SWITCH, "").strip().lower() in _OFF:
        return None
    try:
        from ._otel_turn import Telemetry
    except ImportError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        if tracer_provider is not None or meter_provider is not None:
            raise ImportError(_MISSING_API) from None
        return None
    if capture_content is None:
        capture_content = os.environ.get(ENV_CAPTURE, "").strip().lower() == "true"
    return Telemetry(
        base_url,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        capture_content=capture_content,
    )


def _check_provider(name: str, provider: object, method: str) -> None:
    if provider is not None and not callable(getattr(provider, method, None)):
        raise TypeError(
            f"{name} must be an OpenTelemetry {name.replace('_', ' ')}, got {provider!r}"
        )
