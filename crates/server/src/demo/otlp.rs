//! OTLP building blocks for the demo: attributes, the simulated processes (resources) and request assembly.
//!
//! Everything here mirrors what a real OpenTelemetry Java agent puts on the wire, so the ingest path sees
//! exactly the shapes production traffic has: one `ResourceSpans` per process, one `ScopeSpans` per
//! instrumentation library, resource attributes from the SDK's resource detectors.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// Schema URL the Java agent 2.x stamps on resources and scopes.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.24.0";
/// Version of the (simulated) Java instrumentation, used for every scope.
const INSTRUMENTATION_VERSION: &str = "2.10.0";

/// A string attribute.
pub fn kv(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }), key_strindex: 0 }
}

/// An integer attribute (`http.response.status_code`, `thread.id`, ports are ints in the conventions).
pub fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(AnyValue { value: Some(any_value::Value::IntValue(value)) }), key_strindex: 0 }
}

/// The string value of attribute `key`, if present and a string (test and snapshot helper).
pub fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    })
}

/// The integer value of attribute `key`, if present and an int.
pub fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::IntValue(i) => Some(*i),
        _ => None,
    })
}

/// The four services of the simulated fintech system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Gateway,
    Balance,
    Payment,
    Recharge,
}

impl Service {
    /// `service.name`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Gateway => "gateway",
            Service::Balance => "balance",
            Service::Payment => "payment",
            Service::Recharge => "recharge",
        }
    }

    /// Port the service listens on (`server.port` on its SERVER spans and on callers' CLIENT spans).
    pub fn port(self) -> u16 {
        match self {
            Service::Gateway => 8080,
            Service::Balance => 8081,
            Service::Payment => 8082,
            Service::Recharge => 8083,
        }
    }

    /// How many processes run this service (so hitmaps and servers views see more than one instance).
    pub fn instances(self) -> u8 {
        match self {
            Service::Recharge => 1,
            _ => 2,
        }
    }

    /// Instrumentation scope of its HTTP server spans: payment runs on Undertow, the others on Tomcat.
    pub fn server_scope(self) -> &'static str {
        match self {
            Service::Payment => "io.opentelemetry.undertow-1.4",
            _ => "io.opentelemetry.tomcat-10.0",
        }
    }

    /// Worker-thread naming of the service's servlet container, and the Java thread id of worker 1.
    pub fn thread_pool(self) -> (&'static str, i64, u32) {
        // (name prefix, id of the first worker, pool size)
        match self {
            Service::Gateway => ("http-nio-8080-exec-", 41, 200),
            Service::Balance => ("http-nio-8081-exec-", 38, 50),
            Service::Payment => ("XNIO-1 task-", 57, 64),
            Service::Recharge => ("http-nio-8083-exec-", 36, 40),
        }
    }

    /// Released version of the services that do not take part in the deploy incident.
    fn fixed_version(self) -> Version {
        match self {
            Service::Gateway => Version { major: 1, minor: 12, patch: 3 },
            Service::Balance => Version { major: 4, minor: 2, patch: 0 },
            Service::Payment => Version { major: 3, minor: 0, patch: 1 },
            Service::Recharge => Version { major: 2, minor: 7, patch: 5 },
        }
    }
}

/// A semantic version, small and `Copy` so a process identity stays cheap to pass around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// One simulated process: a deploy (new version) makes a new process with a new `service.instance.id`,
/// exactly as restarting a JVM with the agent does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instance {
    pub service: Service,
    pub ordinal: u8,
    pub version: Version,
}

impl Instance {
    /// Instance `ordinal` of `service` at its fixed version (payment's version comes from the incident schedule).
    pub fn new(service: Service, ordinal: u8) -> Self {
        Instance { service, ordinal, version: service.fixed_version() }
    }

    fn hash(&self) -> u64 {
        let mut h = Fnv::default();
        h.write(self.service.name().as_bytes());
        h.write(&[self.ordinal]);
        h.write(self.version.to_string().as_bytes());
        h.0
    }

    /// `service.instance.id`: a UUID, as the Java agent generates one per process start.
    pub fn instance_id(&self) -> String {
        let a = self.hash();
        let mut h = Fnv(a);
        h.write(b"uuid");
        let b = h.0;
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            a as u16 & 0x0fff,
            (b >> 48) as u16 & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// `host.name`: the VM the process runs on; instances of one service sit on different hosts.
    pub fn host_name(&self) -> String {
        let node = (self.service as u8 + self.ordinal) % 3 + 1;
        format!("fintech-app-{node:02}")
    }

    /// Private IP of the host, used as `client.address` on the SERVER spans this process calls into.
    pub fn host_ip(&self) -> String {
        let node = (self.service as u8 + self.ordinal) % 3 + 1;
        format!("10.20.1.{}", 10 + node)
    }

    /// The resource a Java agent would detect for this process.
    pub fn resource(&self) -> Resource {
        let version = self.version.to_string();
        let pid = 1000 + (self.hash() % 60_000) as i64;
        Resource {
            attributes: vec![
                kv("service.name", self.service.name()),
                kv("service.namespace", "fintech"),
                kv("service.version", version.clone()),
                kv("deployment.version", version),
                kv("deployment.environment.name", "demo"),
                kv("service.instance.id", self.instance_id()),
                kv("host.name", self.host_name()),
                kv("host.arch", "amd64"),
                kv("os.type", "linux"),
                kv("os.description", "Linux 6.8.0-1019-aws"),
                kv_int("process.pid", pid),
                kv("process.runtime.name", "OpenJDK Runtime Environment"),
                kv("process.runtime.version", "21.0.5+11-LTS"),
                kv("process.runtime.description", "Eclipse Adoptium OpenJDK 64-Bit Server VM 21.0.5+11-LTS"),
                kv("telemetry.sdk.name", "opentelemetry"),
                kv("telemetry.sdk.language", "java"),
                kv("telemetry.sdk.version", "1.44.1"),
                kv("telemetry.distro.name", "opentelemetry-java-instrumentation"),
                kv("telemetry.distro.version", INSTRUMENTATION_VERSION),
            ],
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }
    }
}

/// A span plus the process and instrumentation library that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSpan {
    pub instance: Instance,
    pub scope: &'static str,
    pub span: Span,
}

/// Groups spans into one request: one `ResourceSpans` per process, one `ScopeSpans` per library,
/// keeping the given span order inside each group (exporters send spans in the order they ended).
pub fn request(spans: impl IntoIterator<Item = DemoSpan>) -> ExportTraceServiceRequest {
    let mut by_instance: BTreeMap<Instance, Vec<(&'static str, Vec<Span>)>> = BTreeMap::new();
    for s in spans {
        let scopes = by_instance.entry(s.instance).or_default();
        match scopes.iter_mut().find(|(name, _)| *name == s.scope) {
            Some((_, v)) => v.push(s.span),
            None => scopes.push((s.scope, vec![s.span])),
        }
    }
    ExportTraceServiceRequest {
        resource_spans: by_instance
            .into_iter()
            .map(|(instance, scopes)| ResourceSpans {
                resource: Some(instance.resource()),
                scope_spans: scopes
                    .into_iter()
                    .map(|(name, spans)| ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: name.to_owned(),
                            version: INSTRUMENTATION_VERSION.to_owned(),
                            attributes: Vec::new(),
                            dropped_attributes_count: 0,
                        }),
                        spans,
                        schema_url: SCHEMA_URL.to_owned(),
                    })
                    .collect(),
                schema_url: SCHEMA_URL.to_owned(),
            })
            .collect(),
    }
}

/// FNV-1a: a stable hash so process identities (UUIDs, pids) stay the same across restarts of the demo.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
