"""Sends one trace to Sightline with the real OpenTelemetry Python SDK and its OTLP exporter.

Usage: otel_sdk.py <url> [token] [protocol]. Prints the trace id (32 hex) on success.
protocol "http" (default): OTLP/HTTP protobuf to <url>/v1/traces.
protocol "grpc": OTLP/gRPC, gzip-compressed, to <url> (Sightline's --otlp-grpc-addr, plaintext).
A SERVER span with a database child and a recorded exception, plus thread attributes.
"""
import sys
import time

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

url = sys.argv[1]
token = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
protocol = sys.argv[3] if len(sys.argv) > 3 else "http"
if protocol == "grpc":
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    # gRPC metadata keys are lower case.
    headers = {"authorization": f"Bearer {token}"} if token else None
    exporter = OTLPSpanExporter(endpoint=url, insecure=True, headers=headers, compression=grpc.Compression.Gzip)
else:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = {"Authorization": f"Bearer {token}"} if token else None
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers=headers)


class Checked(SpanExporter):
    """The exporter, remembering failed exports (the SDK only logs them)."""

    def __init__(self, inner):
        self.inner = inner
        self.failures = 0

    def export(self, spans):
        result = self.inner.export(spans)
        if result != SpanExportResult.SUCCESS:
            self.failures += 1
        return result

    def shutdown(self):
        self.inner.shutdown()


checked = Checked(exporter)
provider = TracerProvider(resource=Resource.create({"service.name": "py-otel-shop"}))
provider.add_span_processor(SimpleSpanProcessor(checked))
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
if checked.failures:
    sys.exit(f"{checked.failures} export(s) failed over {protocol} (see the exporter's log above)")
print(trace_id)
