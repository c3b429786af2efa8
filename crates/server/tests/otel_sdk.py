"""Sends one trace to Sightline with the real OpenTelemetry Python SDK and OTLP/HTTP protobuf exporter.

Usage: otel_sdk.py <base-url> [token]. Prints the trace id (32 hex) on success.
A SERVER span with a database child and a recorded exception, plus thread attributes.
"""
import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

base = sys.argv[1]
headers = {"Authorization": f"Bearer {sys.argv[2]}"} if len(sys.argv) > 2 else None
provider = TracerProvider(resource=Resource.create({"service.name": "py-otel-shop"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces", headers=headers)))
tracer = provider.get_tracer("sightline-test")

with tracer.start_as_current_span(
    "POST /checkout", kind=SpanKind.SERVER,
    attributes={"http.request.method": "POST", "url.path": "/checkout", "thread.name": "worker-7", "thread.id": 7},
) as root:
    with tracer.start_as_current_span(
        "SELECT orders", kind=SpanKind.CLIENT,
        attributes={"db.system": "postgresql", "db.statement": "SELECT * FROM orders WHERE id = $1", "db.name": "shop"},
    ):
        time.sleep(0.05)
    try:
        raise ValueError("card declined")
    except ValueError as e:
        root.record_exception(e)
        root.set_status(Status(StatusCode.ERROR, "card declined"))
    trace_id = format(root.get_span_context().trace_id, "032x")

ok = provider.force_flush(10_000)
provider.shutdown()
if not ok:
    sys.exit("force_flush timed out")
print(trace_id)
