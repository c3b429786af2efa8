//! Builds the trace view from a trace's stored spans, whatever order and requests they arrived in.
//!
//! Everything here is iterative (no recursion), so a 10 000-deep chain of spans cannot overflow the stack,
//! and linear or `n log n` in the number of spans.

use std::collections::HashMap;

use sightline_model::{Step, Trace, TransactionSummary};

use super::record::{SpanRecord, SpanTimes};

/// Assembles a trace. Finished spans win over in-flight snapshots of the same span; a span whose parent is
/// not stored (yet) is shown as a root, so a partial trace is still readable. In-flight spans are drawn as
/// running until `now_ms`.
pub fn assemble(trace_id: &[u8], spans: Vec<SpanRecord>, now_ms: i64) -> Option<Trace> {
    // Deduplicate by span id: finished beats in-flight, later snapshot beats earlier.
    let mut by_id: HashMap<Vec<u8>, SpanRecord> = HashMap::with_capacity(spans.len());
    for s in spans {
        match by_id.get(&s.span_id) {
            Some(old) if !old.in_flight() && s.in_flight() => {}
            _ => {
                by_id.insert(s.span_id.clone(), s);
            }
        }
    }
    if by_id.is_empty() {
        return None;
    }
    let now_ns = (now_ms.max(0) as u64).saturating_mul(1_000_000);
    let mut spans: Vec<SpanRecord> = by_id.into_values().collect();
    // Sibling order (and root order): by start, then id for determinism.
    spans.sort_by(|a, b| a.start_ns.cmp(&b.start_ns).then_with(|| a.span_id.cmp(&b.span_id)));
    let n = spans.len();
    let end_of = |s: &SpanRecord| if s.in_flight() { now_ns.max(s.start_ns) } else { s.end_ns };
    let ends: Vec<u64> = spans.iter().map(end_of).collect();

    let Tree { children, roots, order, depth } = tree(&spans);
    let self_ns: Vec<u64> = (0..n)
        .map(|i| self_time_ns((spans[i].start_ns, ends[i]), children[i].iter().map(|&c| (spans[c].start_ns, ends[c]))))
        .collect();
    let critical = critical_path(&spans, &ends, &children, &roots);

    let start_ns = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end_ns = ends.iter().copied().max().unwrap_or(start_ns);
    let mut position = vec![0usize; n];
    let steps: Vec<Step> = order
        .iter()
        .enumerate()
        .map(|(pos, &i)| {
            position[i] = pos;
            let s = &spans[i];
            Step {
                span_id: const_hex::encode(&s.span_id),
                parent_span_id: (!s.parent_span_id.is_empty()).then(|| const_hex::encode(&s.parent_span_id)),
                depth: depth[i],
                kind: s.step_kind(),
                service: s.service.clone(),
                name: s.name.clone(),
                offset_ms: (s.start_ns - start_ns) as f64 / 1e6,
                duration_ms: (ends[i] - s.start_ns) as f64 / 1e6,
                self_ms: self_ns[i] as f64 / 1e6,
                status: s.status(),
                text: s.text.clone(),
                target: s.target.clone(),
                thread: s.thread.clone(),
                error: s.step_error(),
                critical: critical[i],
            }
        })
        .collect();
    let slowest_step = (0..n).max_by_key(|&i| (self_ns[i], std::cmp::Reverse(position[i]))).map(|i| position[i]);
    let mut transactions: Vec<TransactionSummary> = spans
        .iter()
        .filter(|s| s.is_transaction && !s.in_flight())
        .map(SpanRecord::summary)
        .collect();
    transactions.sort_by(|a, b| a.start_ms.cmp(&b.start_ms).then_with(|| a.span_id.cmp(&b.span_id)));
    Some(Trace {
        trace_id: const_hex::encode(trace_id),
        start_ms: (start_ns / 1_000_000) as i64,
        duration_ms: (end_ns - start_ns) as f64 / 1e6,
        transactions,
        steps,
        slowest_step,
    })
}

/// The parent/child structure of a trace's spans, by index into the start-sorted spans.
struct Tree {
    /// Children of each span, in start order.
    children: Vec<Vec<usize>>,
    roots: Vec<usize>,
    /// Depth-first order: children after their parent.
    order: Vec<usize>,
    depth: Vec<u32>,
}

/// Links the spans by parent id. A span whose parent is not stored is a root; a cycle (corrupt parent ids)
/// would leave spans unreachable from any root, so those are adopted as roots too.
fn tree(spans: &[SpanRecord]) -> Tree {
    let n = spans.len();
    let index: HashMap<&[u8], usize> = spans.iter().enumerate().map(|(i, s)| (s.span_id.as_slice(), i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match index.get(s.parent_span_id.as_slice()) {
            Some(&p) if !s.parent_span_id.is_empty() && p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut depth = vec![0u32; n];
    let mut visited = vec![false; n];
    let mut dfs = |start: usize, order: &mut Vec<usize>, visited: &mut Vec<bool>| {
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            if visited[i] {
                continue;
            }
            visited[i] = true;
            order.push(i);
            for &c in children[i].iter().rev() {
                depth[c] = depth[i] + 1;
                stack.push(c);
            }
        }
    };
    for &r in &roots {
        dfs(r, &mut order, &mut visited);
    }
    for i in 0..n {
        if !visited[i] {
            roots.push(i);
            dfs(i, &mut order, &mut visited);
        }
    }
    Tree { children, roots, order, depth }
}

/// Self time of the span `(start, end)`: its duration minus the union of its children's intervals, each
/// clipped to the span. `children` must come in start order, so one pass merges them.
fn self_time_ns((start, end): (u64, u64), children: impl Iterator<Item = (u64, u64)>) -> u64 {
    let mut covered = 0u64;
    let mut cur: Option<(u64, u64)> = None;
    for (cs, ce) in children {
        let (cs, ce) = (cs.max(start), ce.min(end));
        if ce <= cs {
            continue;
        }
        cur = match cur {
            Some((a, b)) if cs <= b => Some((a, b.max(ce))),
            Some((a, b)) => {
                covered += b - a;
                Some((cs, ce))
            }
            None => Some((cs, ce)),
        };
    }
    if let Some((a, b)) = cur {
        covered += b - a;
    }
    (end - start).saturating_sub(covered)
}

/// Critical path: from each root, walk back from its end through the child that finished last before the
/// current point, then the one that finished before that child started, and so on (as Jaeger does).
fn critical_path(spans: &[SpanRecord], ends: &[u64], children: &[Vec<usize>], roots: &[usize]) -> Vec<bool> {
    let mut critical = vec![false; spans.len()];
    let mut work: Vec<(usize, u64)> = roots.iter().map(|&r| (r, ends[r])).collect();
    while let Some((i, upto)) = work.pop() {
        if critical[i] {
            continue;
        }
        critical[i] = true;
        let mut kids = children[i].clone();
        kids.sort_by(|a, b| ends[*b].cmp(&ends[*a]));
        let mut t = upto.min(ends[i]);
        for c in kids {
            if spans[c].start_ns < t && ends[c] > spans[i].start_ns {
                work.push((c, t));
                t = spans[c].start_ns;
            }
        }
    }
    critical
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::kind;

    fn rec(id: u8, parent: Option<u8>, start: u64, end: u64) -> SpanRecord {
        SpanRecord {
            trace_id: vec![9; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            service: "svc".into(),
            name: format!("s{id}"),
            start_ns: start * 1_000_000,
            end_ns: end * 1_000_000,
            step_kind: if parent.is_none() { kind::TRANSACTION } else { kind::METHOD },
            is_transaction: parent.is_none(),
            ..Default::default()
        }
    }

    #[test]
    fn depth_first_with_self_time_and_critical_path() {
        // root 0..100; s2 10..30; s6 10..15; s3 20..90 with child s4 30..85; s5 95..99 finishes last.
        let spans = vec![
            rec(4, Some(3), 30, 85),
            rec(1, None, 0, 100),
            rec(6, Some(1), 10, 15),
            rec(3, Some(1), 20, 90),
            rec(2, Some(1), 10, 30),
            rec(5, Some(1), 95, 99),
        ];
        let t = assemble(&[9; 16], spans, 0).unwrap();
        let names: Vec<&str> = t.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["s1", "s2", "s6", "s3", "s4", "s5"]);
        let depths: Vec<u32> = t.steps.iter().map(|s| s.depth).collect();
        assert_eq!(depths, [0, 1, 1, 1, 2, 1]);
        assert_eq!(t.duration_ms, 100.0);
        assert_eq!(t.steps[4].offset_ms, 30.0);
        // s4 has 55 ms of self time, more than anyone (the root has 16).
        assert_eq!(t.slowest_step, Some(4));
        let crit: Vec<bool> = t.steps.iter().map(|s| s.critical).collect();
        // s5 finished last, s3 ran before it (with s4 inside), s2 before s3; s6 overlaps s2 and is not critical.
        assert_eq!(crit, [true, true, false, true, true, true]);
        assert_eq!(t.transactions.len(), 1);
    }

    /// root 0..100 ─┬─ a 10..60 ─┬─ a1 10..30
    ///              │            └─ a2 25..45
    ///              └─ b 70..90
    #[test]
    fn own_time_subtracts_the_union_of_children() {
        let spans = vec![rec(1, None, 0, 100), rec(2, Some(1), 10, 60), rec(3, Some(2), 10, 30), rec(4, Some(2), 25, 45), rec(5, Some(1), 70, 90)];
        let t = assemble(&[9; 16], spans, 0).unwrap();
        let own: Vec<(&str, f64)> = t.steps.iter().map(|s| (s.name.as_str(), s.self_ms)).collect();
        // a: 50 ms, its children cover 10..45 (overlapping) = 35 ms; root: 100 ms minus a and b.
        assert_eq!(own, [("s1", 30.0), ("s2", 15.0), ("s3", 20.0), ("s4", 20.0), ("s5", 20.0)]);
        // A child sticking out of its parent only counts inside it; one outside not at all.
        assert_eq!(self_time_ns((10, 20), [(5, 12), (18, 30), (40, 50)].into_iter()), 6);
    }

    #[test]
    fn orphans_and_deep_chains() {
        let mut spans: Vec<SpanRecord> = (1..=10_000u32)
            .map(|i| {
                let mut r = rec(0, None, i as u64, 20_000 - i as u64);
                r.span_id = (i as u64).to_be_bytes().to_vec();
                if i > 1 {
                    r.parent_span_id = (i as u64 - 1).to_be_bytes().to_vec();
                    r.is_transaction = false;
                }
                r
            })
            .collect();
        spans.reverse();
        let mut orphan = rec(200, Some(201), 5, 6);
        orphan.span_id = vec![200; 8];
        spans.push(orphan);
        let t = assemble(&[9; 16], spans, 0).unwrap();
        assert_eq!(t.steps.len(), 10_001);
        assert_eq!(t.steps[9_999].depth, 9_999);
        assert_eq!(t.steps.iter().filter(|s| s.depth == 0).count(), 2);
    }
}
