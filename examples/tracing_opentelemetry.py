"""A span for every HTTP request the client makes, exported with OpenTelemetry.

llmrix takes aiohttp ``TraceConfig`` objects; this one opens a client span when
a request starts and closes it when the answer's headers arrive (or it fails).
Install ``opentelemetry-sdk``, start a dev server with ``llmrix serve``, and run::

    LLMRIX_BASE_URL=http://127.0.0.1:8899 python examples/tracing_opentelemetry.py

Swap the in-memory exporter for an OTLP one to send the spans to a collector.
"""

import asyncio
from types import SimpleNamespace

import aiohttp
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmrix import LlmrixClient


def otel_trace_config(tracer: trace.Tracer) -> aiohttp.TraceConfig:
    """An aiohttp TraceConfig that records each request as an OpenTelemetry span."""

    async def on_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        context.span = tracer.start_span(
            f"HTTP {params.method}",
            kind=trace.SpanKind.CLIENT,
            attributes={"http.request.method": params.method, "url.path": params.url.path},
        )

    async def on_end(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        context.span.set_attribute("http.response.status_code", params.response.status)
        context.span.end()

    async def on_error(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        context.span.record_exception(params.exception)
        context.span.set_status(trace.StatusCode.ERROR)
        context.span.end()

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_start)
    config.on_request_end.append(on_end)
    config.on_request_exception.append(on_error)
    return config


async def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("llmrix-example")

    async with LlmrixClient(trace_configs=[otel_trace_config(tracer)]) as client:
        conversation = await client.conversations.create("Traced")
        text = await client.chat(conversation.id).complete_text("hello")
        print(f"reply: {text}")
        await client.conversations.delete(conversation.id)

    for span in exporter.get_finished_spans():
        attributes = span.attributes or {}
        print(
            f"span {span.name} {attributes['url.path']} -> "
            f"{attributes['http.response.status_code']}"
        )


if __name__ == "__main__":
    asyncio.run(main())
