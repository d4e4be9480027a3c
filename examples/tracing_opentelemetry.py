"""One agent run as OpenTelemetry spans and metrics, with llmrix's built-in instrumentation.

With the OpenTelemetry API installed (``pip install 'llmrix[otel]'``) every chat turn is
an ``invoke_agent`` span with its tool calls and sub-agents as children, HITL
interrupts and decisions as span events, and the GenAI client metrics, all emitted
through the providers you configure. Install ``opentelemetry-sdk``, start a dev server
with ``llmrix serve``, and run::

    LLMRIX_BASE_URL=http://127.0.0.1:8899 python examples/tracing_opentelemetry.py

Swap the in-memory exporter for ``ConsoleSpanExporter()`` to print the spans, or an
OTLP exporter to send them to a collector.
"""

import asyncio

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmrix import HitlDecision, LlmrixClient


def print_tree(spans: list[ReadableSpan]) -> None:
    """The spans as an indented tree, children under their parent, in start order."""
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in sorted(spans, key=lambda span: span.start_time or 0):
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent, []).append(span)
    known = {span.context.span_id for span in spans}

    def show(span: ReadableSpan, depth: int) -> None:
        attributes = span.attributes or {}
        seconds = ((span.end_time or 0) - (span.start_time or 0)) / 1e9
        outcome = attributes.get("llmrix.run.outcome") or attributes.get("error.type") or ""
        print(f"{'  ' * depth}{span.name} [{span.kind.name}] {seconds * 1000:.1f} ms {outcome}")
        for event in span.events:
            names = ", ".join(f"{k}={v}" for k, v in (event.attributes or {}).items())
            print(f"{'  ' * depth}  * {event.name} {names}")
        for child in children.get(span.context.span_id, []):
            show(child, depth + 1)

    for parent, roots in children.items():
        if parent is None or parent not in known:
            for root in roots:
                show(root, 0)


async def main() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(tracer_provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    tracer = trace.get_tracer("llmrix-example")

    async with LlmrixClient() as client:
        conversation = await client.conversations.create("Traced")
        with tracer.start_as_current_span("handle request"):
            chat = client.chat(conversation.id)
            async with chat.stream("Tidy up /tool web_search /subagent critic /hitl") as stream:
                async for _ in stream:
                    if stream.interrupt is not None:
                        await stream.decide([HitlDecision(decision="approve")])
                print(f"reply: {stream.snapshot.text}")

    print_tree(list(exporter.get_finished_spans()))
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                print(f"metric {metric.name}: {len(metric.data.data_points)} series")


if __name__ == "__main__":
    asyncio.run(main())
