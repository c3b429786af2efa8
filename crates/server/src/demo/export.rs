//! Turns generated transactions into the request stream real agents produce, as two pure state machines
//! driven by the caller's clock: [`Live`] (arrivals, in-flight snapshots, spans exported when they end,
//! per-process batching) and [`Backfill`] (the last minutes of history, in full batches, as fast as ingest
//! takes them).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use rand::Rng;

use super::incidents::Incidents;
use super::otlp::{self, DemoSpan, Instance};
use super::topology;

/// The OTel `BatchSpanProcessor` default `maxExportBatchSize`.
pub const MAX_BATCH: usize = 512;
/// A transaction running longer than this is reported in flight (end time 0) until it finishes.
pub const IN_FLIGHT_AFTER_NS: u64 = 1_000_000_000;
/// How often a running transaction's snapshot is refreshed.
const SNAPSHOT_EVERY_NS: u64 = 1_000_000_000;
/// Bounds of the per-process export schedule; each process gets its own delay, so spans of one trace
/// leave in different requests, as with real services.
const FLUSH_MIN_MS: u64 = 200;
const FLUSH_MAX_MS: u64 = 500;

/// Next arrival of a Poisson process of `rate` per second after `t_ns`.
fn next_arrival<R: Rng + ?Sized>(rng: &mut R, t_ns: u64, rate: f64) -> u64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    t_ns + (-u.ln() / rate * 1e9) as u64
}

/// A finished span waiting for its end time to pass before its process exports it.
struct Pending {
    end_ns: u64,
    seq: u64,
    span: DemoSpan,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.end_ns, self.seq) == (other.end_ns, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    // Reversed: `BinaryHeap` is a max-heap and we want the earliest end first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.end_ns, other.seq).cmp(&(self.end_ns, self.seq))
    }
}

/// A long transaction that is reported in flight until its root ends.
struct Running {
    spans: Vec<DemoSpan>,
    root_end_ns: u64,
    next_snapshot_ns: u64,
}

/// One process's batch span processor queue.
struct Queue {
    spans: Vec<DemoSpan>,
    every_ns: u64,
    next_flush_ns: u64,
}

/// The live workload: call [`Live::poll`] with the current time; it returns the requests to send now.
pub struct Live<R> {
    rng: R,
    rate: f64,
    next_arrival_ns: u64,
    seq: u64,
    pending: BinaryHeap<Pending>,
    running: Vec<Running>,
    queues: BTreeMap<Instance, Queue>,
}

impl<R: Rng> Live<R> {
    /// A workload of `rate` transactions per second whose first arrival follows `start_ns`.
    pub fn new(mut rng: R, start_ns: u64, rate: f64) -> Self {
        let next_arrival_ns = next_arrival(&mut rng, start_ns, rate);
        Live { rng, rate, next_arrival_ns, seq: 0, pending: BinaryHeap::new(), running: Vec::new(), queues: BTreeMap::new() }
    }

    /// Advances the simulation to `now_ns` and returns the export requests due by then.
    pub fn poll(&mut self, now_ns: u64) -> Vec<ExportTraceServiceRequest> {
        while self.next_arrival_ns <= now_ns {
            let at = self.next_arrival_ns;
            self.arrive(at);
            self.next_arrival_ns = next_arrival(&mut self.rng, at, self.rate);
        }
        let mut requests = self.snapshots(now_ns);
        while self.pending.peek().is_some_and(|p| p.end_ns <= now_ns) {
            let p = self.pending.pop().expect("peeked");
            self.enqueue(p.span, now_ns);
        }
        requests.extend(self.flush(now_ns));
        requests
    }

    /// A transaction arriving at `at_ns`: short ones end then; long ones started `IN_FLIGHT_AFTER` ago and
    /// are still running, so they are reported in flight and their spans leave as each one ends.
    fn arrive(&mut self, at_ns: u64) {
        let mut txn = topology::transaction(&mut self.rng, at_ns, &Incidents::at(at_ns));
        let duration = txn.duration_ns();
        if duration > IN_FLIGHT_AFTER_NS {
            txn.shift_later(duration - IN_FLIGHT_AFTER_NS);
            self.running.push(Running { spans: txn.spans.clone(), root_end_ns: txn.root().end_time_unix_nano, next_snapshot_ns: at_ns });
        }
        for span in txn.spans {
            self.seq += 1;
            self.pending.push(Pending { end_ns: span.span.end_time_unix_nano, seq: self.seq, span });
        }
    }

    /// In-flight reports of the long transactions due for one. They bypass the batch queues so a
    /// transaction's running path (root to innermost step) arrives in one request, never split.
    fn snapshots(&mut self, now_ns: u64) -> Vec<ExportTraceServiceRequest> {
        let mut groups: Vec<Vec<DemoSpan>> = Vec::new();
        self.running.retain_mut(|r| {
            if r.root_end_ns <= now_ns {
                return false;
            }
            if r.next_snapshot_ns <= now_ns {
                groups.push(snapshot(&r.spans, now_ns));
                r.next_snapshot_ns = now_ns + SNAPSHOT_EVERY_NS;
            }
            true
        });
        let mut requests = Vec::new();
        let mut current: Vec<DemoSpan> = Vec::new();
        for g in groups {
            if !current.is_empty() && current.len() + g.len() > MAX_BATCH {
                requests.push(otlp::request(std::mem::take(&mut current)));
            }
            current.extend(g);
        }
        if !current.is_empty() {
            requests.push(otlp::request(current));
        }
        requests
    }

    fn enqueue(&mut self, span: DemoSpan, now_ns: u64) {
        let rng = &mut self.rng;
        let queue = self.queues.entry(span.instance).or_insert_with(|| {
            let every_ns = rng.random_range(FLUSH_MIN_MS..=FLUSH_MAX_MS) * 1_000_000;
            Queue { spans: Vec::new(), every_ns, next_flush_ns: now_ns + every_ns }
        });
        queue.spans.push(span);
    }

    /// Collects the batches of every process whose timer fired or whose queue is full into one request,
    /// as a collector forwarding several agents' exports would.
    fn flush(&mut self, now_ns: u64) -> Vec<ExportTraceServiceRequest> {
        let mut batch = Vec::new();
        for q in self.queues.values_mut() {
            let timer = q.next_flush_ns <= now_ns;
            if timer {
                q.next_flush_ns = (q.next_flush_ns + q.every_ns).max(now_ns);
            }
            while !q.spans.is_empty() && (timer || q.spans.len() >= MAX_BATCH) {
                let n = q.spans.len().min(MAX_BATCH);
                batch.push(q.spans.drain(..n).collect::<Vec<_>>());
            }
        }
        // Merge the per-process batches of this tick into one request while it stays within MAX_BATCH.
        let mut reqs: Vec<ExportTraceServiceRequest> = Vec::new();
        for spans in batch {
            let r = otlp::request(spans);
            match reqs.last_mut() {
                Some(last) if span_count(last) + span_count(&r) <= MAX_BATCH => last.resource_spans.extend(r.resource_spans),
                _ => reqs.push(r),
            }
        }
        reqs
    }
}

/// Number of spans in a request.
pub fn span_count(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum()
}

/// The in-flight view of a running transaction at `now_ns`: every span on the running path (the root,
/// the downstream SERVER spans, down to the innermost running step) with end time 0, and without what
/// is only known at the end (status, response code, later events).
fn snapshot(spans: &[DemoSpan], now_ns: u64) -> Vec<DemoSpan> {
    spans
        .iter()
        .filter(|s| s.span.start_time_unix_nano <= now_ns && now_ns < s.span.end_time_unix_nano)
        .map(|s| {
            let mut s = s.clone();
            s.span.end_time_unix_nano = 0;
            s.span.status = None;
            s.span.events.retain(|e| e.time_unix_nano <= now_ns);
            s.span.attributes.retain(|a| a.key != "http.response.status_code" && a.key != "error.type");
            s
        })
        .collect()
}

/// History for the `window` before `to_ns`, so a new user sees a full hitmap at once. Yields requests
/// of [`MAX_BATCH`] spans in end-time order, so traces straddle requests and children come before parents.
pub struct Backfill<R> {
    rng: R,
    rate: f64,
    next_arrival_ns: u64,
    to_ns: u64,
    carry: Vec<DemoSpan>,
}

impl<R: Rng> Backfill<R> {
    /// Transactions ending in `(from_ns, to_ns]` at `rate` per second.
    pub fn new(mut rng: R, from_ns: u64, to_ns: u64, rate: f64) -> Self {
        let next_arrival_ns = next_arrival(&mut rng, from_ns, rate);
        Backfill { rng, rate, next_arrival_ns, to_ns, carry: Vec::new() }
    }

    /// The next request, or `None` when the window is covered.
    pub fn next_request(&mut self) -> Option<ExportTraceServiceRequest> {
        while self.carry.len() < MAX_BATCH && self.next_arrival_ns <= self.to_ns {
            let at = self.next_arrival_ns;
            let mut txn = topology::transaction(&mut self.rng, at, &Incidents::at(at));
            txn.spans.sort_by_key(|s| s.span.end_time_unix_nano);
            self.carry.extend(txn.spans);
            self.next_arrival_ns = next_arrival(&mut self.rng, at, self.rate);
        }
        if self.carry.is_empty() {
            return None;
        }
        let n = self.carry.len().min(MAX_BATCH);
        Some(otlp::request(self.carry.drain(..n)))
    }
}
