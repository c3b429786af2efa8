// OpenTelemetry's Node auto-instrumentation, loaded before the app (`node --require ./otel.js server.js`).
//
// Configured the way a real deployment is, by the standard environment variables:
// - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES — who the spans come from;
// - OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) — where Sightline listens:
//   `http://host:4317` for gRPC, `http://host:8080` for OTLP/HTTP (the exporter adds `/v1/traces`);
// - OTEL_EXPORTER_OTLP_PROTOCOL — `grpc` (the default here) or `http/protobuf`;
// - OTEL_EXPORTER_OTLP_HEADERS — e.g. `authorization=Bearer <ingest token>`;
// - OTEL_BSP_SCHEDULE_DELAY — how often the batch span processor exports (ms).
// The one thing set in code: the pg instrumentation's sqlcommenter option, which appends
// `/*traceparent='00-<trace>-<span>-01'*/` to each query so Sightline ties database sessions to the trace.
'use strict';

const { NodeSDK } = require('@opentelemetry/sdk-node');
const { getNodeAutoInstrumentations } = require('@opentelemetry/auto-instrumentations-node');

const protocol = process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || process.env.OTEL_EXPORTER_OTLP_PROTOCOL || 'grpc';
let OTLPTraceExporter;
if (protocol === 'grpc') {
  ({ OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc'));
} else if (protocol === 'http/protobuf') {
  ({ OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto'));
} else {
  console.error(`otel.js: OTEL_EXPORTER_OTLP_PROTOCOL must be grpc or http/protobuf, not ${protocol}`);
  process.exit(2);
}

const sdk = new NodeSDK({
  // Endpoint, headers and timeout come from the OTEL_EXPORTER_OTLP_* variables.
  traceExporter: new OTLPTraceExporter(),
  instrumentations: [
    getNodeAutoInstrumentations({
      '@opentelemetry/instrumentation-pg': { addSqlCommenterCommentToQueries: true },
    }),
  ],
});
sdk.start();

// On SIGTERM: stop serving, then flush every finished span before exiting, so a caller that waited for
// the exit knows everything was exported.
let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  const close = global.__closeServer || ((cb) => cb());
  close(() => {
    sdk
      .shutdown()
      .then(() => process.exit(0))
      .catch((err) => {
        console.error('otel.js: flushing spans failed:', err);
        process.exit(1);
      });
  });
});
